"""Compressed audio files: our versioned `.tcq` format, EnCodec's `.ecdc`, the bit packing both use, and
`compress_file` / `decompress_file` (audio file <-> compressed file through a codec)."""
