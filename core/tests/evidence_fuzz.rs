#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The fuzz targets' bodies (fuzz/fuzz_targets) run on random and mutated inputs, so that CI
//! exercises them on stable Rust without libFuzzer.

use proptest::prelude::*;
use safehome_core::evidence::fuzzing;
use safehome_testdata::mutate;
use safehome_testdata::read_photo;

/// Small valid images of each accepted format, made here, to mutate.
fn seeds() -> Vec<Vec<u8>> {
    use image::ImageEncoder;
    let img =
        image::RgbaImage::from_fn(37, 23, |x, y| image::Rgba([x as u8 * 7, y as u8 * 11, 90, 200]));
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(img.as_raw(), 37, 23, image::ExtendedColorType::Rgba8)
        .unwrap();
    let mut webp = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
        .encode(img.as_raw(), 37, 23, image::ExtendedColorType::Rgba8)
        .unwrap();
    let rgb = image::DynamicImage::ImageRgba8(img).to_rgb8();
    let mut jpg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpg, 70)
        .encode(rgb.as_raw(), 37, 23, image::ExtendedColorType::Rgb8)
        .unwrap();
    vec![
        png,
        webp,
        jpg,
        read_photo("orientation/Landscape_6.jpg"),
        read_photo("odd/image01137.jpg"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn envelope_reader_on_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        fuzzing::envelope_reader(&data);
    }

    #[test]
    fn envelope_reader_on_mutated_envelopes(
        len in 0u8..255,
        muts in proptest::collection::vec(any::<u8>(), 0..30),
    ) {
        let mut data = vec![1u8, len];
        data.extend(muts);
        fuzzing::envelope_reader(&data);
    }

    #[test]
    fn photo_pipeline_on_random_bytes(
        head in prop_oneof![
            Just(vec![0xFFu8, 0xD8, 0xFF]),
            Just(b"\x89PNG\r\n\x1a\n".to_vec()),
            Just(b"RIFF\x00\x01\x00\x00WEBP".to_vec()),
            Just(Vec::new()),
        ],
        tail in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut data = head;
        data.extend(tail);
        fuzzing::photo_pipeline(&data);
    }

    #[test]
    fn photo_pipeline_on_mutated_images(
        which in 0usize..5,
        flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 0..6),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let seed = seeds().swap_remove(which);
        fuzzing::photo_pipeline(&mutate(seed, &flips, cut));
    }
}

#[test]
fn unmutated_seeds_are_accepted() {
    // The mutation tests start from inputs that reach the deep code paths.
    for s in seeds() {
        assert!(
            safehome_core::evidence::photo::process(&s, &fuzzing::fuzz_photo_options()).is_ok()
        );
    }
    let env = fuzzing::valid_envelope(b"payload");
    assert!(
        safehome_core::evidence::envelope::open_bytes(&env, &fuzzing::fuzz_identity(), None)
            .is_ok()
    );
}
