"""VideoReader random/sequential access, caching, threads, bad files; write_video round trip."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from napari_facehmm.errors import DataError, FileFormatError, UnsupportedFileError
from napari_facehmm.io.video import VideoReader, write_video

PEXELS = "pyfeat/WolfgangLanger_Pexels.mp4"
DLC_VIDEO = "dlc/openfield-Pranav-2018-10-30/videos/m3v1mp4.mp4"


def _decode_all(path, limit=None):
    """Every frame by a plain sequential PyAV decode: the reference."""
    import av

    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if limit is not None and len(frames) == limit:
                break
    return frames


@pytest.fixture(scope="module")
def pexels(shared_data):
    return shared_data / PEXELS, _decode_all(shared_data / PEXELS)


def test_real_video_metadata(shared_data):
    with VideoReader(shared_data / PEXELS) as reader:
        assert reader.shape == (472, 360, 640, 3) and reader.dtype == np.uint8 and len(reader) == 472
        assert reader.fps == pytest.approx(24000 / 1001)
        assert reader.ndim == 4
    with VideoReader(shared_data / "pyfeat/single_face.mp4") as reader:
        assert reader.shape == (72, 360, 640, 3) and reader.fps == pytest.approx(30)
    with VideoReader(shared_data / DLC_VIDEO) as reader:
        assert reader.shape == (2330, 480, 640, 3)


def test_edit_list_frames_match_sequential_decode(shared_data):
    # no_face.mp4 has 98 packets, 3 of them marked discard by an mp4 edit
    # list: FFmpeg shows 95 frames, and so must we.
    path = shared_data / "pyfeat/no_face.mp4"
    reference = _decode_all(path)
    with VideoReader(path) as reader:
        assert len(reader) == len(reference) == 95
        for i in (94, 0, 50, 51, 3):
            np.testing.assert_array_equal(reader[i], reference[i])


def test_random_access_equals_sequential(pexels):
    path, reference = pexels
    rng = np.random.default_rng(7)
    with VideoReader(path) as reader:
        for i in list(rng.integers(0, len(reference), 10)) + [471, 0, 300, 299]:
            np.testing.assert_array_equal(reader[int(i)], reference[i], err_msg=f"frame {i}")
        np.testing.assert_array_equal(reader[-1], reference[-1])
        np.testing.assert_array_equal(reader[-472], reference[0])
        np.testing.assert_array_equal(reader[100:106:2], np.stack(reference[100:106:2]))
        np.testing.assert_array_equal(reader[[5, 3]], np.stack([reference[5], reference[3]]))
        np.testing.assert_array_equal(reader[7, 10:20, :5], reference[7][10:20, :5])
        assert reader[3:3].shape == (0, 360, 640, 3)
        with pytest.raises(IndexError):
            reader[472]


def test_seek_to_later_keyframe_on_dlc_video(shared_data):
    # This file's decoder yields blank frames if it is sought to a later
    # keyframe before it ever decoded the first frame: a regression check.
    path = shared_data / DLC_VIDEO
    reference = _decode_all(path, limit=400)
    with VideoReader(path) as reader:
        for i in (340, 190, 399):
            np.testing.assert_array_equal(reader[i], reference[i], err_msg=f"frame {i}")


def test_sequential_reads_do_not_seek_and_cache_hits_do_not_decode(pexels, monkeypatch):
    path, reference = pexels
    reader = VideoReader(path, cache_size=4)
    seeks = []
    decodes = []
    original_seek = reader._seek_before
    original_decode = reader._decode_until
    monkeypatch.setattr(reader, "_seek_before", lambda i: (seeks.append(i), original_seek(i))[1])
    monkeypatch.setattr(reader, "_decode_until", lambda i: (decodes.append(i), original_decode(i))[1])
    reader[200]
    assert seeks == [200]
    for i in range(201, 230):
        np.testing.assert_array_equal(reader[i], reference[i])
    assert seeks == [200], "sequential reads must continue decoding, not seek"
    n_decodes = len(decodes)
    reader[229], reader[228]
    assert len(decodes) == n_decodes, "recent frames come from the cache"
    assert len(reader._cache) == 4
    reader[50]
    assert seeks == [200, 50]
    reader.close()
    with pytest.raises(ValueError):
        reader[1]


def test_reader_is_thread_safe(pexels):
    path, reference = pexels
    reader = VideoReader(path)
    failures = []

    def read(indices):
        for i in indices:
            if not np.array_equal(reader[int(i)], reference[i]):
                failures.append(i)

    rng = np.random.default_rng(3)
    threads = [threading.Thread(target=read, args=(rng.integers(0, 472, 6),)) for _ in range(3)]
    threads.append(threading.Thread(target=read, args=(range(60, 90),)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reader.close()
    assert failures == []


def _smooth_frames(n_frames, height, width):
    y, x = np.mgrid[0:height, 0:width]
    for t in range(n_frames):
        red = 128 + 100 * np.sin((x + 3 * t) / 9.0)
        green = 128 + 100 * np.cos((y - 2 * t) / 7.0)
        blue = np.full_like(red, 60 + 4 * t)
        yield np.stack([red, green, blue], axis=2).astype(np.uint8)


def test_write_video_round_trip(tmp_path):
    frames = list(_smooth_frames(40, 64, 96))
    path = write_video(iter(frames), tmp_path / "clip.mp4", fps=25.0)
    with VideoReader(path) as reader:
        assert reader.shape == (40, 64, 96, 3) and reader.fps == pytest.approx(25.0)
        assert reader._stream.codec_context.name == "h264"
        assert reader._stream.codec_context.pix_fmt == "yuv420p"
        for i in (0, 17, 39):
            error = np.abs(reader[i].astype(float) - frames[i]).mean()
            # 4:2:0 chroma subsampling alone costs ~3 grey levels on these
            # frames (measured at crf 0); crf 18 adds ~0.4.
            assert error < 5.0, f"frame {i}: mean abs error {error:.2f}"
        # frame i really is frame i: each frame's blue level is distinct
        assert np.argmin([abs(reader[25][..., 2].mean() - f[..., 2].mean()) for f in frames]) == 25


def test_write_video_pads_odd_sizes_and_keeps_ntsc_rate(tmp_path):
    frames = list(_smooth_frames(5, 31, 45))
    with VideoReader(write_video(frames, tmp_path / "odd.mp4", fps=29.97)) as reader:
        assert reader.shape == (5, 32, 46, 3)
        assert reader.fps == pytest.approx(30000 / 1001)
        assert np.abs(reader[2][:31, :45].astype(float) - frames[2]).mean() < 5.0


def test_write_video_bad_input(tmp_path):
    with pytest.raises(DataError, match="no frames"):
        write_video([], tmp_path / "none.mp4", fps=30)
    assert not (tmp_path / "none.mp4").exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(DataError, match="frame 1"):
        write_video([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 10, 3), np.uint8)], tmp_path / "m.mp4", 30)
    with pytest.raises(DataError, match="uint8"):
        write_video([np.zeros((8, 8, 3))], tmp_path / "f.mp4", 30)
    with pytest.raises(UnsupportedFileError, match="clip.gif"):
        write_video([np.zeros((8, 8, 3), np.uint8)], tmp_path / "clip.gif", 30)


def test_bad_video_files(tmp_path, shared_data):
    empty = tmp_path / "empty_clip.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "text_clip.mp4"
    text.write_text("not a video at all\n" * 50)
    data = (shared_data / "pyfeat/single_face.mp4").read_bytes()
    cut = tmp_path / "cut_clip.mp4"
    cut.write_bytes(data[: len(data) // 2])
    for path in (empty, text, cut, tmp_path / "absent_clip.mp4"):
        with pytest.raises(FileFormatError) as info:
            VideoReader(path)
        assert path.name in str(info.value)


def test_truncated_video_with_index_first(tmp_path):
    import av

    # moov atom first ("faststart"), then the file cut: it opens, but frames are missing.
    path = tmp_path / "faststart_clip.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for image in _smooth_frames(60, 48, 64):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(FileFormatError, match="truncated") as info:
        VideoReader(path)
    assert "faststart_clip.mp4" in str(info.value)


def _encode(path, codec, n_frames=40, options=None):
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = options or {}
        for image in _smooth_frames(n_frames, 48, 64):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def test_avi_with_b_frames_falls_back_to_decode_order(tmp_path):
    # H.264 with B-frames in AVI: the container's timestamps do not follow
    # display order, so frames are counted in decoder output order instead.
    path = _encode(tmp_path / "bframes.avi", "libx264")
    reference = _decode_all(path)
    with VideoReader(path) as reader:
        assert not reader.timestamps_reliable and len(reader) == len(reference) == 40
        for i in (5, 39, 2, 20, 21, 0):
            np.testing.assert_array_equal(reader[i], reference[i], err_msg=f"frame {i}")
    mkv = _encode(tmp_path / "bframes.mkv", "libx264")
    with VideoReader(mkv) as reader:
        assert reader.timestamps_reliable


def test_raw_stream_without_timestamps_is_counted(tmp_path):
    path = _encode(tmp_path / "raw.h264", "libx264")
    reference = _decode_all(path)
    with VideoReader(path) as reader:
        assert not reader.timestamps_reliable and len(reader) == 40
        for i in (30, 4, -1):
            np.testing.assert_array_equal(reader[i], reference[i], err_msg=f"frame {i}")


def test_forward_jump_within_a_gop_does_not_seek(tmp_path, monkeypatch):
    path = _encode(tmp_path / "gop.mp4", "libx264", n_frames=60, options={"g": "20", "keyint_min": "20"})
    reference = _decode_all(path)
    reader = VideoReader(path, cache_size=2)
    seeks = []
    original_seek = reader._seek_before
    monkeypatch.setattr(reader, "_seek_before", lambda i: (seeks.append(i), original_seek(i))[1])
    for i in (22, 25, 31):  # one GOP: 20..39
        np.testing.assert_array_equal(reader[i], reference[i])
    assert seeks == [22]
    np.testing.assert_array_equal(reader[45], reference[45])  # next GOP: seek to its keyframe
    assert seeks == [22, 45]
    reader.close()


def test_threaded_rgb_conversion_is_pixel_identical(tmp_path, shared_data):
    # The reader converts with one swscale thread (faster next to the
    # decoder's threads); its frames must be exactly those of PyAV's default
    # conversion, for yuv444p
    # (DLC example), yuv420p (Pexels) and our own write_video output.
    import av

    from napari_facehmm.io import video

    written = write_video(_smooth_frames(30, 242, 322), tmp_path / "clip.mp4", fps=25.0)
    for path, n_frames in ((shared_data / DLC_VIDEO, 40), (shared_data / PEXELS, 30), (written, 30)):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for i, frame in enumerate(container.decode(stream)):
                if i == n_frames:
                    break
                np.testing.assert_array_equal(
                    video._to_rgb(frame), frame.to_ndarray(format="rgb24"), err_msg=f"{path.name} frame {i}"
                )
    if int(av.__version__.split(".")[0]) >= 18:  # measured: PyAV 18 has reformat(threads=)
        assert video._RGB_THREADS_SUPPORTED
    reference = _decode_all(shared_data / DLC_VIDEO, limit=40)
    with VideoReader(shared_data / DLC_VIDEO) as reader:
        for i in range(40):
            np.testing.assert_array_equal(reader[i], reference[i], err_msg=f"frame {i}")


def test_get_frame_without_copy_is_the_cached_frame_read_only(tmp_path):
    from napari_facehmm.layerdata import VideoFrames

    path = tmp_path / "clip.mp4"
    write_video(_smooth_frames(12, 32, 48), path, fps=10.0)
    with VideoReader(path) as reader:
        shared = reader.get_frame(5, copy=False)
        assert not shared.flags.writeable
        with pytest.raises(ValueError):
            shared[0, 0, 0] = 1
        own = reader.get_frame(5)
        assert own.flags.writeable and own is not shared
        np.testing.assert_array_equal(own, shared)
        own[0, 0, 0] ^= 255  # the caller's copy: the cache is untouched
        np.testing.assert_array_equal(reader.get_frame(5, copy=False), shared)
        # the napari adapter hands out the cached frames, no copies
        frames = VideoFrames(reader)
        assert frames[5] is reader.get_frame(5, copy=False)
        np.testing.assert_array_equal(frames[7], reader[7])


def test_video_writer_writes_a_frame_at_a_time_and_only_a_complete_file(tmp_path):
    from napari_facehmm.io.video import VideoReader
    from napari_facehmm.io.video_writer import VideoWriter

    path = tmp_path / "live.mp4"
    with VideoWriter(path, fps=25, preset="ultrafast") as writer:
        for value in range(0, 250, 25):
            writer.write(np.full((48, 64, 3), value, np.uint8))
            assert not path.exists()  # in place only when complete
    with VideoReader(path) as reader:
        assert reader.n_frames == 10 and reader.fps == 25
        assert abs(int(reader.get_frame(9)[24, 32, 0]) - 225) <= 3
    before = path.read_bytes()
    writer = VideoWriter(path, fps=25)
    writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.abort()  # a run that stops: the earlier file is kept as it was, no temporary is left
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["live.mp4"]
    with pytest.raises(KeyboardInterrupt):
        with VideoWriter(tmp_path / "other.mp4", fps=25) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.mp4"]
