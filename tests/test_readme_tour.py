"""README's "Every endpoint" tour, call for call, against the emulator."""

from __future__ import annotations

from pathlib import Path

from pixverse_async import PixVerse
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.videos import frame_size, render

from .conftest import API_KEY, FAST_POLL
from .test_upload_checks import png, wav


async def test_every_call_of_the_readme_tour_works(tmp_path: Path) -> None:
    cat = tmp_path / "cat.png"
    cat.write_bytes(png(320, 180))
    voice = tmp_path / "voice.wav"
    voice.write_bytes(wav())
    async with Emulator(api_keys={API_KEY}, generation_seconds=0.02) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL) as client:
            image = await client.images.upload(cat)
            clip = await client.media.upload(voice)
            a = b = dog = room = image
            assert clip.media_type == "audio"

            job = await client.videos.text_to_video(
                prompt="a lighthouse at dawn",
                model="v5",
                duration=5,
                quality="540p",
                aspect_ratio="16:9",
                camera_movement="zoom_in",
            )
            video = await job.wait()
            job = await client.videos.image_to_video(
                img_id=image.img_id,
                prompt="the cat yawns",
                model="v4.5",
                duration=5,
                quality="540p",
            )
            await job.wait()
            job = await client.videos.transition(
                first_frame_img=a.img_id,
                last_frame_img=b.img_id,
                prompt="morph",
                model="v5",
                duration=5,
                quality="540p",
            )
            await job.wait()
            job = await client.videos.multi_transition(
                multi_transition=[{"img_id": a.img_id, "duration": 3}, {"img_id": b.img_id}],
                model="v5",
                quality="540p",
            )
            await job.wait()
            job = await client.videos.extend(
                source_video_id=video.id,
                prompt="across the universe",
                seed=1,
                quality="540p",
                duration=5,
                model="v4.5",
            )
            await job.wait()
            job = await client.videos.fusion(
                image_references=[
                    {"type": "subject", "img_id": dog.img_id, "ref_name": "dog"},
                    {"type": "background", "img_id": room.img_id, "ref_name": "room"},
                ],
                prompt="@dog plays in @room",
                model="v4.5",
                duration=5,
                quality="540p",
                aspect_ratio="16:9",
                seed=7,
            )
            await job.wait()
            job = await client.videos.restyle(
                source_video_id=video.id, restyle_prompt="as a watercolour"
            )
            await job.wait()
            masks = await client.videos.select_mask(source_video_id=video.id)
            job = await client.videos.swap(
                source_video_id=video.id,
                keyframe_id=masks.keyframe_id,
                mask_id=masks.mask_info[0].mask_id,
                img_id=image.img_id,
                quality="540p",
            )
            await job.wait()
            job = await client.videos.lip_sync(
                source_video_id=video.id,
                lip_sync_tts_speaker_id="Auto",
                lip_sync_tts_content="hello there",
            )
            await job.wait()
            job = await client.videos.sound_effect(
                source_video_id=video.id, sound_effect_content="waves", original_sound_switch=True
            )
            final = await job.wait()

            out = tmp_path / "out"
            out.mkdir()
            saved = await client.videos.download(final, out)
            assert saved.read_bytes() == render(
                *frame_size("540p", "16:9"), 5
            )  # a sound effect: 5 s
            status = await client.videos.get(final.id)
            assert status.is_successful

            page = await client.speakers.list(page_num=1, page_size=10)
            voices = [s async for s in client.speakers.iterate()]
            effects = [e async for e in client.restyles.iterate()]
            balance = await client.account.balance()
    assert len(page.data) == 10 and len(voices) == page.total
    assert effects and balance.credit_monthly is not None
    assert len(emu.state.generations) == 10
