"""Offline, captioned music corpus: music21 scores and MMA grooves rendered with FluidSynth.

Pipeline: source list (sources.py) -> seeded clip plan (plan.py) -> per book: music21 -> cached MIDI
(convert.py, cache.py) -> seeded variant (variant.py, styles.py, instruments.py) -> flat event list (events.py, drums.py, mma.py)
-> persistent FluidSynth render (synth.py) -> caption + sidecar (caption.py) -> atomic files and
manifests (writer.py). build.py runs it with workers and resume; `tonecraft corpus music` is cli/corpus.py.
"""
