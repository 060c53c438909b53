"""Offline, captioned sound-effects corpus (`tonecraft corpus sfx`, docs/SFX_CORPUS.md).

Two sources, one output format (the music corpus's: FLAC clips, sidecar JSON, train/valid/test manifests):
- recorded sounds that Debian packages ship: packages.py (apt-get download, unpack only the audio, licence
  from debian/copyright), recorded.py (decode, 16 kHz mono, trim, split), captions.py + caption_rules.py
  (path -> caption and category, or skipped);
- procedural sounds with exact labels: synth.py (sfxr-style presets), textures.py (filtered noise), physical.py
  (footsteps, knocks), procedural.py (the kinds and their seeded parameters).
build.py plans, renders with workers, resumes and writes the manifests; dsp.py holds the shared signal helpers.
"""
