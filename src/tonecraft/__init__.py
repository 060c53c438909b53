"""tonecraft: generative audio (EnCodec, MusicGen, AudioGen) in plain PyTorch."""
__version__ = "0.1.0"
