"""Neural audio codec (EnCodec architecture): SEANet encoder/decoder + residual vector quantiser."""
from .configs import CodecConfig, get_config
from .model import Codec

__all__ = ["Codec", "CodecConfig", "get_config"]
