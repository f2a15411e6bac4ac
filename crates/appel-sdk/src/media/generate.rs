//! The frames virtual devices produce: well-formed Opus and VP8 payloads at a real device's rate
//! and size, made up on the spot (nothing recorded, nothing downloaded). A receiver's parser
//! accepts them; a decoder would render noise, which is all a load or a scenario needs.

use std::time::Duration;

/// A microphone's frame period: 20 ms of Opus, 50 frames a second.
pub(crate) const AUDIO_PERIOD: Duration = Duration::from_millis(20);
/// A camera's frame rate.
pub(crate) const VIDEO_RATE: u64 = 30;
/// A keyframe at least this often, as an encoder does so that late joiners can start decoding.
const KEYFRAME_EVERY: u64 = 2 * VIDEO_RATE;
/// 32 kbit/s of 20 ms frames.
const OPUS_FRAME_BYTES: usize = 80;
const VP8_KEYFRAME_BYTES: usize = 2400;
const VP8_DELTA_BYTES: usize = 600;
const WIDTH: u16 = 640;
const HEIGHT: u16 = 360;

/// A small, fast, seeded noise source (xorshift); spread matters, not quality.
struct Noise(u64);

impl Noise {
    fn fill(&mut self, out: &mut Vec<u8>, len: usize) {
        while out.len() < len {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            out.extend_from_slice(&self.0.to_le_bytes()[..(len - out.len()).min(8)]);
        }
    }
}

/// A virtual microphone's encoder.
pub(crate) struct OpusSource {
    noise: Noise,
}

impl OpusSource {
    pub(crate) fn new(seed: u64) -> Self {
        OpusSource {
            noise: Noise(seed | 1),
        }
    }

    /// One 20 ms frame: a table-of-contents byte saying one CELT full-band 20 ms mono frame
    /// (configuration 31, code 0), then the frame's bytes.
    pub(crate) fn next_frame(&mut self) -> Vec<u8> {
        let mut frame = Vec::with_capacity(OPUS_FRAME_BYTES);
        frame.push(31 << 3);
        self.noise.fill(&mut frame, OPUS_FRAME_BYTES);
        frame
    }
}

/// A virtual camera's encoder.
pub(crate) struct Vp8Source {
    noise: Noise,
    frames: u64,
    keyframe_asked: bool,
}

impl Vp8Source {
    pub(crate) fn new(seed: u64) -> Self {
        Vp8Source {
            noise: Noise(seed.rotate_left(17) | 1),
            frames: 0,
            keyframe_asked: true,
        }
    }

    /// The next frame is a keyframe (a receiver lost the picture, or the camera changed).
    pub(crate) fn ask_keyframe(&mut self) {
        self.keyframe_asked = true;
    }

    /// One frame: the VP8 frame tag (keyframe bit, version 0, shown, first partition size) and,
    /// for a keyframe, the start code and a 640×360 size, then the partitions' bytes.
    pub(crate) fn next_frame(&mut self) -> Vec<u8> {
        let key = self.keyframe_asked || self.frames % KEYFRAME_EVERY == 0;
        self.keyframe_asked = false;
        self.frames += 1;
        let len = if key {
            VP8_KEYFRAME_BYTES
        } else {
            VP8_DELTA_BYTES
        };
        let header = if key { 10 } else { 3 };
        let first_partition = u32::try_from((len - header) / 4).unwrap_or(0);
        let tag = u32::from(!key) | (1 << 4) | (first_partition << 5);
        let mut frame = Vec::with_capacity(len);
        frame.extend_from_slice(&tag.to_le_bytes()[..3]);
        if key {
            frame.extend_from_slice(&[0x9d, 0x01, 0x2a]);
            frame.extend_from_slice(&WIDTH.to_le_bytes());
            frame.extend_from_slice(&HEIGHT.to_le_bytes());
        }
        self.noise.fill(&mut frame, len);
        frame
    }
}

/// Whether `frame` is a VP8 frame as virtual cameras and real encoders write it: a frame tag whose
/// first partition fits, and for a keyframe the start code and a non-zero size.
pub fn is_vp8_frame(frame: &[u8]) -> bool {
    if frame.len() < 3 {
        return false;
    }
    let tag = u32::from(frame[0]) | (u32::from(frame[1]) << 8) | (u32::from(frame[2]) << 16);
    let key = tag & 1 == 0;
    let first_partition = (tag >> 5) as usize;
    if key {
        frame.len() >= 10
            && frame[3..6] == [0x9d, 0x01, 0x2a]
            && u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff != 0
            && u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff != 0
            && first_partition <= frame.len() - 10
    } else {
        first_partition <= frame.len() - 3
    }
}

/// Whether `frame` is a single-frame Opus packet (code 0) with a payload.
pub fn is_opus_frame(frame: &[u8]) -> bool {
    frame.len() >= 2 && frame[0] & 0x03 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_frames_parse_and_come_at_a_cameras_size_and_rhythm() {
        let mut camera = Vp8Source::new(7);
        let frames: Vec<Vec<u8>> = (0..KEYFRAME_EVERY * 2)
            .map(|_| camera.next_frame())
            .collect();
        assert!(frames.iter().all(|f| is_vp8_frame(f)));
        let keyframes = frames.iter().filter(|f| f[0] & 1 == 0).count();
        assert_eq!(keyframes, 2, "one at the start, one two seconds later");
        camera.ask_keyframe();
        assert_eq!(
            camera.next_frame()[0] & 1,
            0,
            "a requested keyframe comes next"
        );
        let mut microphone = OpusSource::new(7);
        let a = microphone.next_frame();
        let b = microphone.next_frame();
        assert!(is_opus_frame(&a) && a.len() == OPUS_FRAME_BYTES);
        assert_ne!(a, b, "frames differ like real audio does");
        assert!(!is_vp8_frame(&[0x00, 0x00]) && !is_opus_frame(&[0x03, 1]));
    }
}
