"""The caption rule table: examples from the packages, skips on purpose, unmatched paths skipped."""
import pytest

from tonecraft.data.sfx.captions import Caption, Skip, caption_for, check_table, path_words

EXAMPLES = [
    ("0ad-data", "usr/share/games/0ad/mods/public/public.zip!/audio/attack/impact/arrow_metal_02.ogg",
     "an arrow hitting metal", "impact"),
    ("0ad-data", "public.zip!/audio/ambient/weather/rain.ogg", "rain", "weather"),
    ("0ad-data", "public.zip!/audio/actor/fauna/death/death_horse_13.ogg", "a horse dying", "animal"),
    ("megaglest-data", "usr/share/games/megaglest/techs/x/units/swordman/sounds/swordman_attack6.wav",
     "a sword clash", "weapon"),
    ("ufoai-sound", "usr/share/games/ufoai/base/0sound.pk3!/sound/footsteps/gravel2.ogg", "footsteps on gravel",
     "footsteps"),
    ("widelands-data", "usr/share/games/widelands/data/sound/farm/scythe_00.ogg", "a scythe cutting grain", "tool"),
    ("lincity-ng-data", "usr/share/games/lincity-ng/sounds/TraficLow2.wav", "road traffic", "ambience"),
    ("hedgewars-data", "usr/share/games/hedgewars/Data/Sounds/voices/Pirate/Excellent.ogg",
     'a cartoon voice shouting "excellent"', "voice"),
    ("sound-theme-freedesktop", "usr/share/sounds/freedesktop/stereo/phone-incoming-call.oga",
     "a telephone ringing", "ui"),
    # arcade packages: lasers named as such, WavPack (.wv) members, a "fire" that is a gun, not flames
    ("teeworlds-data", "usr/share/games/teeworlds/data/audio/wp_laser_fire-02.wv", "a laser gun firing", "weapon"),
    ("freedroidrpg-data", "usr/share/games/freedroidrpg/data/sound/effects/bullets/Single_Laser.ogg",
     "a laser rifle shot", "weapon"),
    ("powermanga-data", "usr/share/games/powermanga/sounds/sound_enemy_fire_1.wav",
     "a spaceship's energy weapon firing", "weapon"),
    ("starfighter-data", "usr/share/games/starfighter/sound/beamLaser.ogg", "a long sweeping laser beam", "weapon"),
]


def test_table_is_well_formed():
    assert check_table() == []


@pytest.mark.parametrize("pkg,path,text,category", EXAMPLES)
def test_examples(pkg, path, text, category):
    got = caption_for(pkg, path)
    assert isinstance(got, Caption), got
    assert (got.text, got.category) == (text, category)


@pytest.mark.parametrize("pkg,path", [
    ("warzone2100-data", "usr/share/games/warzone2100/sequenceaudio.wz!/audio/pcv643.ogg"),  # meaningless name
    ("0ad-data", "public.zip!/audio/music/peace/Ambient_1.ogg"),  # music
    ("sound-theme-freedesktop", "usr/share/sounds/freedesktop/stereo/audio-channel-front-left.oga"),  # speech
    ("teeworlds-data", "usr/share/games/teeworlds/data/audio/sfx_pickup_gun.wv"),  # a pickup, not a gunshot
    ("freedroidrpg-data", "usr/share/games/freedroidrpg/data/sound/effects/bot_sounds/voice_samples/12.ogg"),
])
def test_paths_that_must_be_skipped(pkg, path):
    assert isinstance(caption_for(pkg, path), Skip)


def test_path_words():
    assert path_words("a/b/Sounds/attack/impact/arrowMetal_02.ogg") == "sounds / attack / impact / arrow metal"
    assert path_words("x.pk3!/footsteps/gravel2.wav") == "x pk / footsteps / gravel"


def test_package_specific_rules_do_not_leak():
    assert isinstance(caption_for("wesnoth-1.16-data", "sounds/voices/Pirate/Excellent.ogg"), Skip)
