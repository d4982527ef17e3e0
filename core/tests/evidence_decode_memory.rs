#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The photo pipeline's real peak memory stays inside its documented budget for every decoder
//! path, the progressive JPEG included (issue 14: a 1 MB progressive JPEG peaked at 438 MB
//! against its budget, because its decoder keeps every DCT coefficient of the whole
//! image until the last scan). Peak resident memory (VmHWM) is reset before each case; this
//! binary holds one test only, so that nothing else runs in the process while it is measured.

use safehome_core::evidence::photo::{self, PhotoError, PhotoOptions};

/// A smooth RGB picture encoded as a JPEG (progressive or baseline): compresses to little, so a
/// large frame fits in a small file, as an attacker's would.
fn jpeg(width: u16, height: u16, progressive: bool) -> Vec<u8> {
    // Rows change every 64 lines: build each band's row once (this test's own code is not
    // optimised; the codecs are).
    let (w, h) = (usize::from(width), usize::from(height));
    let mut rgb = Vec::with_capacity(w * h * 3);
    let mut row = Vec::with_capacity(w * 3);
    for y in 0..h {
        if y % 64 == 0 {
            row.clear();
            for x in 0..w {
                row.extend_from_slice(&[(x / 64) as u8, (y / 64) as u8, ((x + y) / 128) as u8]);
            }
        }
        rgb.extend_from_slice(&row);
    }
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 80);
    enc.set_progressive(progressive);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_4_4);
    enc.encode(&rgb, width, height, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

fn peak_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn every_jpeg_path_stays_inside_the_memory_budget() {
    let opts = PhotoOptions::default();
    let budget_kb = opts.memory_budget / 1024;
    // (width, height, progressive, accepted): a 50 MP baseline photo as phone cameras write it
    // is accepted; a 36 MP progressive one is refused before decoding, as its decoder would
    // need ~310 MiB.
    let cases = [
        (8160u16, 6120u16, false, true),
        (6000, 6000, false, true),
        (4000, 3000, true, true),
        (6000, 6000, true, false),
    ];
    for (w, h, progressive, accepted) in cases {
        let input = jpeg(w, h, progressive);
        let base = rss_kb();
        reset_peak();
        let result = photo::process(&input, &opts);
        let used = peak_kb().saturating_sub(base);
        eprintln!(
            "{w}x{h} progressive={progressive} file={} KB: {:?}, peak +{} MiB",
            input.len() / 1024,
            result.as_ref().map(|p| (p.width, p.height)).map_err(|e| e.to_string()),
            used / 1024
        );
        assert!(
            used <= budget_kb,
            "{w}x{h} progressive={progressive}: peak {used} KB over {budget_kb} KB"
        );
        match result {
            Ok(_) => assert!(accepted, "{w}x{h} progressive={progressive} should be refused"),
            Err(PhotoError::OverMemoryBudget { needed, budget, .. }) => {
                assert!(!accepted, "{w}x{h}: refused ({needed} > {budget})");
            }
            Err(e) => panic!("{w}x{h}: {e}"),
        }
    }
}
