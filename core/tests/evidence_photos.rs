#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every photo fixture is processed correctly or refused with a typed error; orientation sets
//! come out upright and identical by pixels; no output carries EXIF, GPS or any other metadata.

use std::collections::BTreeMap;
use std::path::PathBuf;

use safehome_core::evidence::jpeg;
use safehome_core::evidence::photo::{self, PhotoError, PhotoOptions};
use safehome_testdata::{photos_dir, png_bomb, read_photo, truncated_jpeg};

/// A fixture's bytes: a file under testdata/photos, or one of the inputs made in code (named
/// `synthetic/...`).
fn read(rel: &str) -> Vec<u8> {
    match rel {
        "synthetic/truncated-half.jpg" => truncated_jpeg(),
        "synthetic/bomb-20000x20000.png" => png_bomb(20_000, 20_000),
        "synthetic/bomb-1x50000000.png" => png_bomb(1, 50_000_000),
        _ => read_photo(rel),
    }
}

/// What each fixture must give.
#[derive(Debug)]
enum Expect {
    /// Processed; output width and height; whether EXIF had GPS.
    Ok {
        w: u32,
        h: u32,
        gps: bool,
    },
    Unsupported(&'static str),
    Truncated,
    Corrupt,
    Empty,
    TooManyPixels,
    SideTooLong,
}

fn expectations() -> BTreeMap<&'static str, Expect> {
    use Expect::*;
    let mut m = BTreeMap::from([
        ("camera/DSCN0010.jpg", Ok { w: 640, h: 480, gps: true }),
        ("camera/DSCN0012.jpg", Ok { w: 640, h: 480, gps: true }),
        ("camera/HMD_Nokia_8.3_5G.small.jpg", Ok { w: 1152, h: 494, gps: true }),
        ("camera/jolla.jpg", Ok { w: 2000, h: 1500, gps: false }),
        ("odd/35-empty.small.jpg", Ok { w: 541, h: 406, gps: false }),
        ("odd/36-memory_error.small.jpg", Ok { w: 400, h: 300, gps: false }),
        // A run of 0xFF bytes inside its entropy-coded data is not followed by a marker.
        ("odd/corrupted.head.jpg", Corrupt),
        ("odd/empty.jpg", Empty),
        ("odd/image00971.jpg", Ok { w: 636, h: 227, gps: false }),
        ("odd/image01088.jpg", Ok { w: 425, h: 120, gps: false }),
        ("odd/image01137.jpg", Ok { w: 88, h: 64, gps: false }),
        ("odd/iphone_13_pro_max.head.HEIC", Unsupported("HEIC")),
        ("odd/not-an-image.jpg", Unsupported("unknown")),
        ("orientation/LICENSE", Unsupported("unknown")),
        ("synthetic/truncated-half.jpg", Truncated),
        ("synthetic/bomb-20000x20000.png", TooManyPixels),
        ("synthetic/bomb-1x50000000.png", SideTooLong),
    ]);
    for i in 0..=8 {
        m.insert(leak(format!("orientation/Landscape_{i}.jpg")), Ok { w: 450, h: 300, gps: false });
        m.insert(leak(format!("orientation/Portrait_{i}.jpg")), Ok { w: 300, h: 450, gps: false });
    }
    m
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Every file under the fixture folder, relative to it, and the inputs made in code.
fn all_fixture_files() -> Vec<String> {
    let root = photos_dir();
    let mut out = Vec::new();
    for sub in std::fs::read_dir(&root).unwrap() {
        let sub: PathBuf = sub.unwrap().path();
        if !sub.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&sub).unwrap() {
            let f = f.unwrap().path();
            out.push(f.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/"));
        }
    }
    out.extend(
        ["truncated-half.jpg", "bomb-20000x20000.png", "bomb-1x50000000.png"]
            .map(|n| format!("synthetic/{n}")),
    );
    out.sort();
    out
}

/// The output is a JPEG with no metadata segments, no EXIF or GPS bytes, that decodes to the
/// stated size.
fn assert_clean_jpeg(bytes: &[u8], w: u32, h: u32, what: &str) {
    let layout = jpeg::parse(bytes).unwrap_or_else(|e| panic!("{what}: output is not whole: {e}"));
    let meta: Vec<_> = layout.metadata_segments().map(|s| s.marker).collect();
    assert!(meta.is_empty(), "{what}: metadata segments {meta:x?}");
    assert!(layout.exif(bytes).is_none(), "{what}: EXIF in output");
    // Only the JFIF APP0 header may precede the tables, and it has no embedded thumbnail.
    for s in layout.segments.iter().filter(|s| s.marker == 0xE0) {
        let d = &bytes[s.data.clone()];
        assert!(d.starts_with(b"JFIF\0"), "{what}: APP0 other than JFIF");
        assert_eq!(&d[12..14], &[0, 0], "{what}: JFIF thumbnail");
    }
    let header_end = layout.segments.iter().find(|s| s.marker == 0xDA).unwrap().offset;
    let header = &bytes[..header_end];
    for needle in [&b"Exif"[..], b"GPS", b"http://ns.adobe.com", b"MPF"] {
        assert!(!header.windows(needle.len()).any(|x| x == needle), "{what}: found {needle:?}");
    }
    let exif = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(bytes));
    assert!(exif.is_err(), "{what}: an EXIF reader found EXIF in the output");
    let img = image::load_from_memory(bytes).unwrap();
    assert_eq!((img.width(), img.height()), (w, h), "{what}: decoded size");
}

#[test]
fn every_fixture_is_processed_or_refused_with_a_typed_error() {
    let expect = expectations();
    let files = all_fixture_files();
    let unknown: Vec<_> = files.iter().filter(|f| !expect.contains_key(f.as_str())).collect();
    assert!(unknown.is_empty(), "fixtures without an expectation in this test: {unknown:?}");
    let missing: Vec<_> = expect.keys().filter(|k| !files.iter().any(|f| f == *k)).collect();
    assert!(missing.is_empty(), "fixtures missing: {missing:?}");

    let opts = PhotoOptions::default();
    for (rel, want) in &expect {
        let got = photo::process(&read(rel), &opts);
        match (want, got) {
            (Expect::Ok { w, h, gps }, Ok(p)) => {
                assert_eq!((p.width, p.height), (*w, *h), "{rel}");
                assert_clean_jpeg(&p.jpeg, p.width, p.height, rel);
                let long = p.thumbnail_width.max(p.thumbnail_height);
                assert_eq!(long, 320.min(p.width.max(p.height)), "{rel}: thumbnail long edge");
                assert_clean_jpeg(&p.thumbnail, p.thumbnail_width, p.thumbnail_height, rel);
                assert_eq!(p.sha256, photo_sha(&p.jpeg), "{rel}: output hash");
                assert_eq!(p.original.sha256, photo_sha(&read(rel)), "{rel}: original hash");
                assert_eq!(p.exif.gps.is_some(), *gps, "{rel}: GPS facts {:?}", p.exif.gps);
            }
            (Expect::Unsupported(name), Err(PhotoError::UnsupportedFormat { format })) => {
                assert_eq!(format, *name, "{rel}");
            }
            (Expect::Truncated, Err(PhotoError::Truncated { .. }))
            | (Expect::Corrupt, Err(PhotoError::Corrupt { .. }))
            | (Expect::Empty, Err(PhotoError::Empty))
            | (Expect::TooManyPixels, Err(PhotoError::TooManyPixels { .. }))
            | (Expect::SideTooLong, Err(PhotoError::SideTooLong { .. })) => {}
            (want, got) => panic!("{rel}: expected {want:?}, got {:?}", got.map(|p| p.width)),
        }
    }
}

fn photo_sha(b: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, b);
    d.as_ref().try_into().unwrap()
}

#[test]
fn gps_and_capture_time_are_read_from_exif() {
    let p = photo::process(&read("camera/DSCN0010.jpg"), &PhotoOptions::default()).unwrap();
    let g = p.exif.gps.unwrap();
    // ianare/exif-samples DSCN0010: a photo taken in Tuscany.
    assert!((43.0..44.0).contains(&g.latitude), "{g:?}");
    assert!((11.0..12.0).contains(&g.longitude), "{g:?}");
    assert_eq!(p.exif.captured_local.as_deref(), Some("2008-10-22T16:28:39"));
    // No offset recorded: the instant falls back to GPS time, 2008-10-23T14:27:07.24Z.
    assert_eq!(p.exif.captured_offset_minutes, None);
    assert_eq!(p.exif.captured_at_ms, Some(1_224_772_027_240));
    assert_eq!(g.time_ms, Some(1_224_772_027_240));

    // HMD writes signed rationals and an offset: 2022-08-14 14:12:31 +03:00.
    let hmd = photo::process(&read("camera/HMD_Nokia_8.3_5G.small.jpg"), &PhotoOptions::default())
        .unwrap();
    let g = hmd.exif.gps.unwrap();
    assert!((60.0..61.0).contains(&g.latitude) && (24.0..25.0).contains(&g.longitude), "{g:?}");
    assert_eq!(hmd.exif.captured_local.as_deref(), Some("2022-08-14T14:12:31"));
    assert_eq!(hmd.exif.captured_offset_minutes, Some(180));
    assert_eq!(hmd.exif.captured_at_ms, Some(1_660_475_551_000));
    assert_eq!(hmd.exif.orientation, Some(1));
}

#[test]
fn the_bomb_is_refused_before_allocation_by_either_limit() {
    let bomb = png_bomb(20_000, 20_000);
    match photo::process(&bomb, &PhotoOptions::default()) {
        Err(PhotoError::TooManyPixels { width: 20000, height: 20000, limit_megapixels: 50 }) => {}
        other => panic!("{:?}", other.map(|p| p.width)),
    }
    // With the pixel cap lifted, the memory budget still refuses it (400 MB of grey pixels).
    let lifted = PhotoOptions { max_megapixels: 1000, ..PhotoOptions::default() };
    match photo::process(&bomb, &lifted) {
        Err(PhotoError::OverMemoryBudget { needed, budget, .. }) => {
            assert!(needed >= 400_000_000 && needed > budget);
        }
        other => panic!("{:?}", other.map(|p| p.width)),
    }
}

#[test]
fn options_are_applied_and_checked() {
    let src = read("camera/jolla.jpg");
    let o =
        PhotoOptions { max_pixels: 800, quality: 50, thumbnail_pixels: 100, ..Default::default() };
    let p = photo::process(&src, &o).unwrap();
    assert_eq!((p.width, p.height), (800, 600));
    assert_eq!((p.thumbnail_width, p.thumbnail_height), (100, 75));
    let hi = photo::process(&src, &PhotoOptions { max_pixels: 800, quality: 95, ..o }).unwrap();
    assert!(hi.jpeg.len() > p.jpeg.len(), "quality 95 must be larger than quality 50");
    for bad in [
        PhotoOptions { quality: 0, ..o },
        PhotoOptions { quality: 101, ..o },
        PhotoOptions { max_pixels: 0, ..o },
        PhotoOptions { thumbnail_pixels: 0, ..o },
    ] {
        assert!(matches!(photo::process(&src, &bad), Err(PhotoError::InvalidOption(_))));
    }
    let small = PhotoOptions { max_input_bytes: 1000, ..o };
    assert!(matches!(photo::process(&src, &small), Err(PhotoError::InputTooLarge { .. })));
}

/// Mean RGB over a grid of `n` x `n` cells (an area-weighted shrink done by `image`).
fn grid(bytes: &[u8], n: u32) -> Vec<f64> {
    let img = image::load_from_memory(bytes).unwrap();
    let small = img.resize_exact(n, n, image::imageops::FilterType::Triangle).to_rgb8();
    small.into_raw().into_iter().map(f64::from).collect()
}

fn mean_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64
}

fn mirrored(g: &[f64], n: usize) -> Vec<f64> {
    let mut out = g.to_vec();
    for y in 0..n {
        for x in 0..n {
            for k in 0..3 {
                out[(y * n + x) * 3 + k] = g[(y * n + (n - 1 - x)) * 3 + k];
            }
        }
    }
    out
}

#[test]
fn orientation_sets_come_out_upright_and_identical() {
    const N: u32 = 12;
    for group in ["Landscape", "Portrait"] {
        let reference =
            photo::process(&read(&format!("orientation/{group}_1.jpg")), &PhotoOptions::default())
                .unwrap();
        let ref_grid = grid(&reference.jpeg, N);
        // The picture is not symmetric, so a missed flip would show.
        assert!(mean_abs_diff(&ref_grid, &mirrored(&ref_grid, N as usize)) > 10.0);
        for i in 0..=8 {
            let rel = format!("orientation/{group}_{i}.jpg");
            let p = photo::process(&read(&rel), &PhotoOptions::default()).unwrap();
            assert_eq!((p.width, p.height), (reference.width, reference.height), "{rel}");
            if i != 0 {
                assert_eq!(p.exif.orientation, Some(i), "{rel}");
            }
            let d = mean_abs_diff(&grid(&p.jpeg, N), &ref_grid);
            assert!(d < 2.0, "{rel}: differs from {group}_1 by {d:.2} levels on average");
            let t = mean_abs_diff(&grid(&p.thumbnail, N), &grid(&reference.thumbnail, N));
            assert!(t < 3.0, "{rel}: thumbnail differs by {t:.2}");
        }
    }
}

#[test]
fn png_and_webp_inputs_are_processed_and_stripped() {
    // Build a PNG and a lossless WebP from a decoded fixture, each carrying an EXIF block with GPS
    // taken from DSCN0010, and check that the pipeline reads the EXIF and strips it.
    let src = read("camera/DSCN0010.jpg");
    let layout = jpeg::parse(&src).unwrap();
    let tiff = layout.exif(&src).unwrap().to_vec();
    let img = image::load_from_memory(&src).unwrap();
    let rgba = img.to_rgba8();

    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(rgba.as_raw(), rgba.width(), rgba.height(), image::ExtendedColorType::Rgba8)
        .unwrap();
    let png = with_png_exif(&png, &tiff);
    let p = photo::process(&png, &PhotoOptions::default()).unwrap();
    assert_eq!(p.original.format, photo::PhotoFormat::Png);
    assert!(p.exif.gps.is_some(), "PNG eXIf GPS not read");
    assert_clean_jpeg(&p.jpeg, 640, 480, "png");

    let mut webp = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
        .encode(rgba.as_raw(), rgba.width(), rgba.height(), image::ExtendedColorType::Rgba8)
        .unwrap();
    let p = photo::process(&webp, &PhotoOptions::default()).unwrap();
    assert_eq!(p.original.format, photo::PhotoFormat::Webp);
    assert_clean_jpeg(&p.jpeg, 640, 480, "webp");

    // A PNG cut short is refused as truncated, not decoded in part.
    let cut = &png[..png.len() / 2];
    assert!(matches!(
        photo::process(cut, &PhotoOptions::default()),
        Err(PhotoError::Truncated { .. })
    ));
    // A WebP whose RIFF size runs past the end likewise.
    let cut = &webp[..webp.len() - 10];
    assert!(matches!(
        photo::process(cut, &PhotoOptions::default()),
        Err(PhotoError::Truncated { .. })
    ));
}

use image::ImageEncoder;

/// Insert an eXIf chunk after IHDR.
fn with_png_exif(png: &[u8], tiff: &[u8]) -> Vec<u8> {
    let ihdr_end = 8 + 8 + 13 + 4;
    let mut out = png[..ihdr_end].to_vec();
    out.extend((tiff.len() as u32).to_be_bytes());
    let mut body = b"eXIf".to_vec();
    body.extend(tiff);
    let crc = crc32(&body);
    out.extend(&body);
    out.extend(crc.to_be_bytes());
    out.extend(&png[ihdr_end..]);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}
