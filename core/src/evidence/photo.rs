//! The photo pipeline: one camera photo in, one small, upright, metadata-free JPEG out.
//!
//! Steps, in order: refuse empty, oversized and unsupported input (naming the format: HEIC is
//! converted by the iOS layer before it reaches the core); walk the container's structure without
//! decoding pixels, refusing a truncated or malformed file and reading the declared dimensions;
//! read the EXIF facts; check the pixel cap and the memory budget against the declared
//! dimensions, so a decompression bomb is refused before any pixel buffer exists; decode (JPEG
//! in strict mode: corrupt entropy-coded data is refused, not papered over with grey); downscale
//! to `max_pixels` on the long edge (Lanczos-3); apply the EXIF orientation to the small image;
//! encode a baseline JPEG (4:2:0) that carries no metadata at all (only the JFIF header); make a
//! thumbnail; hash the original and the result.

use std::io::{Cursor, Read};
use std::path::Path;

use fast_image_resize as fr;
use image::ImageDecoder;
use serde::{Deserialize, Serialize};

use super::exif::{ExifFacts, read_facts};
use super::jpeg::{self, JpegError};

pub const DEFAULT_MAX_PIXELS: u32 = 2000;
pub const DEFAULT_QUALITY: u8 = 80;
pub const DEFAULT_THUMBNAIL_PIXELS: u32 = 320;
pub const DEFAULT_MAX_MEGAPIXELS: u32 = 50;
/// Largest peak memory (bytes) the pipeline may reach for one photo, checked before decoding
/// from the declared size with the real cost of each decoder path ([`decode_cost`]): a 50 MP
/// baseline JPEG, as phone cameras write them, fits (peak measured ~207 MiB); a progressive JPEG,
/// whose decoder keeps every DCT coefficient until its last scan, fits up to ~20 MP.
pub const DEFAULT_MEMORY_BUDGET: u64 = 224 << 20;
/// Memory the pipeline uses beyond the pixel buffers it is charged for (the encoder's output,
/// the thumbnail, allocator slack), measured on the 36 MP baseline case.
const FIXED_OVERHEAD: u64 = 16 << 20;
/// Largest input file read.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 64 << 20;
/// Largest long edge an output may be given.
pub const MAX_OUTPUT_PIXELS: u32 = 16_384;

/// The longest side a photo may declare. Larger than any phone camera's (a 200 MP sensor is
/// 16,320 px wide); the pixel cap alone does not bound a side: a 1 x 50,000,000 PNG is within
/// 50 MP, yet its decoding and resizing cost gigabytes (issue 14).
pub const MAX_SIDE: u32 = 20_000;

/// The content type of every processed photo.
pub const OUTPUT_CONTENT_TYPE: &str = "image/jpeg";

/// Input formats the pipeline decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhotoFormat {
    Jpeg,
    Png,
    Webp,
}

impl std::fmt::Display for PhotoFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PhotoFormat::Jpeg => "JPEG",
            PhotoFormat::Png => "PNG",
            PhotoFormat::Webp => "WebP",
        })
    }
}

/// Settings of one run of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoOptions {
    /// Long edge of the output; smaller photos are not enlarged.
    pub max_pixels: u32,
    /// JPEG quality, 1–100.
    pub quality: u8,
    /// Long edge of the thumbnail.
    pub thumbnail_pixels: u32,
    /// Refuse inputs that declare more pixels than this many million.
    pub max_megapixels: u32,
    /// Refuse inputs whose decoded pixels would need more bytes than this.
    pub memory_budget: u64,
    /// Refuse input files larger than this.
    pub max_input_bytes: u64,
}

impl Default for PhotoOptions {
    fn default() -> Self {
        PhotoOptions {
            max_pixels: DEFAULT_MAX_PIXELS,
            quality: DEFAULT_QUALITY,
            thumbnail_pixels: DEFAULT_THUMBNAIL_PIXELS,
            max_megapixels: DEFAULT_MAX_MEGAPIXELS,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

/// Why a photo was refused. No message contains pixel data or EXIF values.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("the file is empty")]
    Empty,
    #[error("unsupported image format: {format} (JPEG, PNG and WebP are accepted)")]
    UnsupportedFormat { format: String },
    #[error("the file is {size} bytes, over the {limit}-byte limit")]
    InputTooLarge { size: u64, limit: u64 },
    #[error("the image declares {width}x{height} pixels, over the {limit_megapixels} MP limit")]
    TooManyPixels { width: u32, height: u32, limit_megapixels: u32 },
    #[error(
        "the image declares {width}x{height} pixels: a side is over the {max_side}-pixel limit"
    )]
    SideTooLong { width: u32, height: u32, max_side: u32 },
    #[error(
        "decoding {width}x{height} pixels needs {needed} bytes, over the {budget}-byte memory budget"
    )]
    OverMemoryBudget { width: u32, height: u32, needed: u64, budget: u64 },
    #[error("truncated {format} at byte {offset}: {what}")]
    Truncated { format: PhotoFormat, offset: u64, what: String },
    #[error("corrupt {format}: {what}")]
    Corrupt { format: PhotoFormat, what: String },
    #[error("invalid option: {0}")]
    InvalidOption(&'static str),
    #[error("could not encode the JPEG: {0}")]
    Encode(String),
    #[error("could not read the photo: {0}")]
    Io(#[from] std::io::Error),
}

/// Facts about the original file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginalInfo {
    pub format: PhotoFormat,
    pub width: u32,
    pub height: u32,
    pub size: u64,
    #[serde(with = "crate::hex::serde32")]
    pub sha256: [u8; 32],
}

/// A processed photo: the JPEG to seal, its thumbnail and what was learnt on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedPhoto {
    /// The JPEG (no metadata segments).
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub sha256: [u8; 32],
    pub thumbnail: Vec<u8>,
    pub thumbnail_width: u32,
    pub thumbnail_height: u32,
    pub original: OriginalInfo,
    pub exif: ExifFacts,
}

/// Pixels: 1 (grey) or 3 (RGB) bytes per pixel, rows packed.
struct Raster {
    width: u32,
    height: u32,
    channels: u8,
    data: Vec<u8>,
}

/// Process a photo file. The file is read whole (photos are a few MB), after its size is
/// checked against `max_input_bytes`.
pub fn process_file(path: &Path, opts: &PhotoOptions) -> Result<ProcessedPhoto, PhotoError> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > opts.max_input_bytes {
        return Err(PhotoError::InputTooLarge { size, limit: opts.max_input_bytes });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(opts.max_input_bytes.saturating_add(1)).read_to_end(&mut bytes)?;
    process(&bytes, opts)
}

/// Process a photo held in memory.
pub fn process(input: &[u8], opts: &PhotoOptions) -> Result<ProcessedPhoto, PhotoError> {
    check_options(opts)?;
    if input.is_empty() {
        return Err(PhotoError::Empty);
    }
    let size = input.len() as u64;
    if size > opts.max_input_bytes {
        return Err(PhotoError::InputTooLarge { size, limit: opts.max_input_bytes });
    }
    let format = sniff(input)?;
    // Structure, declared dimensions and EXIF, before any pixel is decoded.
    let container = match format {
        PhotoFormat::Jpeg => jpeg_container(input)?,
        PhotoFormat::Png => png_container(input)?,
        PhotoFormat::Webp => webp_container(input)?,
    };
    let exif = container.exif.map(read_facts).unwrap_or_default();
    let original_sha256 = sha256(input);

    let raster = match format {
        PhotoFormat::Jpeg => decode_jpeg(input, &container, opts)?,
        PhotoFormat::Png | PhotoFormat::Webp => decode_with_image(input, format, opts)?,
    };
    let (orig_w, orig_h) = (raster.width, raster.height);
    let small = downscale(raster, opts.max_pixels)?;
    let upright = orient(small, exif.orientation_or_default());
    let jpeg_bytes = encode_jpeg(&upright, opts.quality)?;
    let thumb = downscale_copy(&upright, opts.thumbnail_pixels)?;
    let thumbnail = match &thumb {
        Some(t) => encode_jpeg(t, opts.quality)?,
        None => encode_jpeg(&upright, opts.quality)?,
    };
    let (tw, th) = thumb.as_ref().map_or((upright.width, upright.height), |t| (t.width, t.height));
    Ok(ProcessedPhoto {
        sha256: sha256(&jpeg_bytes),
        jpeg: jpeg_bytes,
        width: upright.width,
        height: upright.height,
        thumbnail,
        thumbnail_width: tw,
        thumbnail_height: th,
        original: OriginalInfo {
            format,
            width: orig_w,
            height: orig_h,
            size,
            sha256: original_sha256,
        },
        exif,
    })
}

fn check_options(o: &PhotoOptions) -> Result<(), PhotoError> {
    if !(16..=MAX_OUTPUT_PIXELS).contains(&o.max_pixels) {
        return Err(PhotoError::InvalidOption("max_pixels must be between 16 and 16384"));
    }
    if !(1..=100).contains(&o.quality) {
        return Err(PhotoError::InvalidOption("quality must be between 1 and 100"));
    }
    if !(16..=MAX_OUTPUT_PIXELS).contains(&o.thumbnail_pixels) {
        return Err(PhotoError::InvalidOption("thumbnail_pixels must be between 16 and 16384"));
    }
    if o.max_megapixels == 0 {
        return Err(PhotoError::InvalidOption("max_megapixels must be at least 1"));
    }
    Ok(())
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Identify the format from the first bytes; anything but JPEG, PNG and WebP is refused by name.
pub fn sniff(b: &[u8]) -> Result<PhotoFormat, PhotoError> {
    let unsupported = |f: &str| Err(PhotoError::UnsupportedFormat { format: f.to_string() });
    if b.is_empty() {
        return Err(PhotoError::Empty);
    }
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(PhotoFormat::Jpeg);
    }
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(PhotoFormat::Png);
    }
    if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Ok(PhotoFormat::Webp);
    }
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        let major = &b[8..12];
        let box_len = usize::try_from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(0);
        let compat = b.get(16..box_len.min(b.len()).max(16)).unwrap_or(&[]);
        let has = |brands: &[&[u8; 4]]| {
            brands.iter().any(|br| major == &br[..] || compat.chunks(4).any(|c| c == &br[..]))
        };
        return if has(&[b"avif", b"avis"]) {
            unsupported("AVIF")
        } else if has(&[b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"]) {
            unsupported("HEIC")
        } else if has(&[b"mif1", b"msf1"]) {
            unsupported("HEIF")
        } else if has(&[b"qt  "]) {
            unsupported("QuickTime video")
        } else {
            unsupported("MP4/ISO media")
        };
    }
    let magic: &[(&[u8], &str)] = &[
        (b"GIF87a", "GIF"),
        (b"GIF89a", "GIF"),
        (b"BM", "BMP"),
        (b"II*\0", "TIFF"),
        (b"MM\0*", "TIFF"),
        (&[0xFF, 0x0A], "JPEG XL"),
        (b"\0\0\0\x0cJXL \r\n\x87\n", "JPEG XL"),
        (b"\0\0\0\x0cjP  \r\n\x87\n", "JPEG 2000"),
        (b"8BPS", "Photoshop PSD"),
        (b"%PDF", "PDF"),
        (b"qoif", "QOI"),
        (&[0, 0, 1, 0], "ICO"),
        (b"II\x1a\0\0\0HEAPCCDR", "Canon CRW"),
    ];
    for (m, name) in magic {
        if b.starts_with(m) {
            return unsupported(name);
        }
    }
    unsupported("unknown")
}

/// What the container walk found.
struct Container<'a> {
    width: u32,
    height: u32,
    exif: Option<&'a [u8]>,
    /// JPEG only: colour components and whether the frame is progressive (its decoder then
    /// keeps two bytes per coefficient, per component, for the whole image).
    jpeg_frame: Option<(u8, bool)>,
}

fn jpeg_err(e: JpegError) -> PhotoError {
    match e {
        JpegError::NotJpeg => PhotoError::UnsupportedFormat { format: "unknown".into() },
        JpegError::Truncated { offset, what } => PhotoError::Truncated {
            format: PhotoFormat::Jpeg,
            offset: offset as u64,
            what: what.into(),
        },
        JpegError::Corrupt { offset, what } => PhotoError::Corrupt {
            format: PhotoFormat::Jpeg,
            what: format!("{what} (byte {offset})"),
        },
    }
}

fn jpeg_container(input: &[u8]) -> Result<Container<'_>, PhotoError> {
    let layout = jpeg::parse(input).map_err(jpeg_err)?;
    // Progressive frames: SOF2, SOF6, SOF10, SOF14.
    let progressive = matches!(layout.frame_marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
    Ok(Container {
        width: u32::from(layout.width),
        height: u32::from(layout.height),
        exif: layout.exif(input),
        jpeg_frame: Some((layout.components, progressive)),
    })
}

fn png_container(b: &[u8]) -> Result<Container<'_>, PhotoError> {
    let trunc = |offset: usize, what: &str| PhotoError::Truncated {
        format: PhotoFormat::Png,
        offset: offset as u64,
        what: what.into(),
    };
    let corrupt = |what: String| PhotoError::Corrupt { format: PhotoFormat::Png, what };
    let mut pos = 8;
    let mut dims = None;
    let mut exif = None;
    loop {
        let Some(head) = b.get(pos..pos + 8) else {
            return Err(trunc(pos, "no IEND chunk"));
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        if len > 0x7FFF_FFFF {
            return Err(corrupt(format!("chunk length over 2^31 at byte {pos}")));
        }
        let ty = &head[4..8];
        let data = pos + 8..pos + 8 + len as usize;
        if data.end + 4 > b.len() {
            return Err(trunc(pos, "chunk runs past the end"));
        }
        if dims.is_none() {
            if ty != b"IHDR" || len != 13 {
                return Err(corrupt("first chunk is not a 13-byte IHDR".into()));
            }
            let d = &b[data.clone()];
            let w = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
            let h = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
            if w == 0 || h == 0 {
                return Err(corrupt("zero image dimension".into()));
            }
            dims = Some((w, h));
        }
        if ty == b"eXIf" && exif.is_none() {
            exif = Some(&b[data.clone()]);
        }
        if ty == b"IEND" {
            break;
        }
        pos = data.end + 4;
    }
    let (width, height) = dims.unwrap_or((0, 0));
    Ok(Container { width, height, exif, jpeg_frame: None })
}

fn webp_container(b: &[u8]) -> Result<Container<'_>, PhotoError> {
    let corrupt = |what: String| PhotoError::Corrupt { format: PhotoFormat::Webp, what };
    let riff = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    let end = 8 + riff;
    if end > b.len() {
        return Err(PhotoError::Truncated {
            format: PhotoFormat::Webp,
            offset: b.len() as u64,
            what: format!("RIFF declares {end} bytes"),
        });
    }
    let mut pos = 12;
    let mut exif = None;
    let mut dims = None;
    while pos + 8 <= end {
        let ty = &b[pos..pos + 4];
        let len = u32::from_le_bytes([b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]]) as usize;
        let data = pos + 8..pos + 8 + len;
        if data.end > end {
            return Err(PhotoError::Truncated {
                format: PhotoFormat::Webp,
                offset: pos as u64,
                what: "chunk runs past the RIFF end".into(),
            });
        }
        let d = &b[data.clone()];
        match ty {
            b"EXIF" if exif.is_none() => exif = Some(d),
            b"VP8X" if d.len() >= 10 => {
                let w = u32::from_le_bytes([d[4], d[5], d[6], 0]) + 1;
                let h = u32::from_le_bytes([d[7], d[8], d[9], 0]) + 1;
                dims = Some((w, h));
            }
            b"VP8 " if dims.is_none() && d.len() >= 10 => {
                let w = u32::from(u16::from_le_bytes([d[6], d[7]]) & 0x3FFF);
                let h = u32::from(u16::from_le_bytes([d[8], d[9]]) & 0x3FFF);
                dims = Some((w, h));
            }
            b"VP8L" if dims.is_none() && d.len() >= 5 => {
                let bits = u32::from_le_bytes([d[1], d[2], d[3], d[4]]);
                dims = Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1));
            }
            _ => {}
        }
        pos = data.end + (len & 1);
    }
    let (width, height) = dims.ok_or_else(|| corrupt("no image chunk".into()))?;
    Ok(Container { width, height, exif, jpeg_frame: None })
}

/// What decoding and downscaling a `w` x `h` image costs at its peak, in bytes: the decoder's
/// buffers (`decode_bytes_per_pixel` for every pixel: the output, plus the DCT coefficients a
/// progressive JPEG keeps, plus a colour conversion's copy), the resizer's intermediate (the
/// image at its new width and old height), and a fixed overhead. Measured against real peaks in
/// `core/tests/evidence_decode_memory.rs`.
pub fn decode_cost(
    w: u32,
    h: u32,
    decode_bytes_per_pixel: u64,
    out_channels: u64,
    max_pixels: u32,
) -> u64 {
    let pixels = u64::from(w) * u64::from(h);
    let long = u64::from(w.max(h)).max(1);
    let scaled_w = if long > u64::from(max_pixels) {
        (u64::from(w) * u64::from(max_pixels)).div_ceil(long)
    } else {
        0 // no resize
    };
    pixels * decode_bytes_per_pixel + scaled_w * u64::from(h) * out_channels + FIXED_OVERHEAD
}

/// The side and pixel caps and the memory budget, from declared dimensions, before any
/// allocation.
fn check_limits(
    w: u32,
    h: u32,
    decode_bytes_per_pixel: u64,
    out_channels: u64,
    o: &PhotoOptions,
) -> Result<(), PhotoError> {
    if w.max(h) > MAX_SIDE {
        return Err(PhotoError::SideTooLong { width: w, height: h, max_side: MAX_SIDE });
    }
    let pixels = u64::from(w) * u64::from(h);
    if pixels > u64::from(o.max_megapixels) * 1_000_000 {
        return Err(PhotoError::TooManyPixels {
            width: w,
            height: h,
            limit_megapixels: o.max_megapixels,
        });
    }
    let needed = decode_cost(w, h, decode_bytes_per_pixel, out_channels, o.max_pixels);
    if needed > o.memory_budget {
        return Err(PhotoError::OverMemoryBudget {
            width: w,
            height: h,
            needed,
            budget: o.memory_budget,
        });
    }
    Ok(())
}

fn decode_jpeg(input: &[u8], c: &Container<'_>, o: &PhotoOptions) -> Result<Raster, PhotoError> {
    use zune_core::colorspace::ColorSpace;
    let corrupt = |what: String| PhotoError::Corrupt { format: PhotoFormat::Jpeg, what };
    // Grey stays grey; everything else (YCbCr, CMYK, YCCK) is decoded to RGB.
    let (components, progressive) = c.jpeg_frame.unwrap_or((3, true));
    let out_channels: u64 = if components == 1 { 1 } else { 3 };
    let coefficients = if progressive { 2 * u64::from(components) } else { 0 };
    check_limits(c.width, c.height, out_channels + coefficients, out_channels, o)?;
    let options = zune_core::options::DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(c.width as usize)
        .set_max_height(c.height as usize);
    let mut dec = zune_jpeg::JpegDecoder::new_with_options(
        zune_core::bytestream::ZCursor::new(input),
        options,
    );
    dec.decode_headers().map_err(|e| corrupt(format!("{e:?}")))?;
    let (w, h) = dec.dimensions().ok_or_else(|| corrupt("no dimensions".into()))?;
    if (w as u32, h as u32) != (c.width, c.height) {
        return Err(corrupt("decoder and frame header disagree on the size".into()));
    }
    let grey = matches!(dec.input_colorspace(), Some(ColorSpace::Luma));
    let out = if grey { ColorSpace::Luma } else { ColorSpace::RGB };
    dec.set_options(options.jpeg_set_out_colorspace(out));
    let len = dec.output_buffer_size().ok_or_else(|| corrupt("no output size".into()))?;
    let channels: u8 = if grey { 1 } else { 3 };
    if len != w * h * usize::from(channels) {
        return Err(corrupt("unexpected output size".into()));
    }
    let mut data = vec![0u8; len];
    dec.decode_into(&mut data).map_err(|e| corrupt(format!("{e:?}")))?;
    Ok(Raster { width: w as u32, height: h as u32, channels, data })
}

fn image_err(format: PhotoFormat, e: image::ImageError) -> PhotoError {
    match e {
        image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            PhotoError::Truncated { format, offset: 0, what: "pixel data cut off".into() }
        }
        image::ImageError::Limits(l) => PhotoError::Corrupt { format, what: format!("{l}") },
        other => PhotoError::Corrupt { format, what: other.to_string() },
    }
}

fn decode_with_image(
    input: &[u8],
    format: PhotoFormat,
    o: &PhotoOptions,
) -> Result<Raster, PhotoError> {
    let fmt = match format {
        PhotoFormat::Png => image::ImageFormat::Png,
        _ => image::ImageFormat::WebP,
    };
    let mut reader = image::ImageReader::with_format(Cursor::new(input), fmt);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(o.memory_budget);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|e| image_err(format, e))?;
    let (w, h) = decoder.dimensions();
    let ct = decoder.color_type();
    // Decoded as `ct`, then converted to 8-bit grey or RGB (a second buffer) unless it already is.
    let out_channels: u64 = if ct.has_color() { 3 } else { 1 };
    let converted = !matches!(ct, image::ColorType::L8 | image::ColorType::Rgb8);
    let per_pixel = u64::from(ct.bytes_per_pixel()) + if converted { out_channels } else { 0 };
    check_limits(w, h, per_pixel, out_channels, o)?;
    let img = image::DynamicImage::from_decoder(decoder).map_err(|e| image_err(format, e))?;
    let has_alpha = img.color().has_alpha();
    let grey = !img.color().has_color();
    let (channels, data) = match (grey, has_alpha) {
        (true, false) => (1, img.into_luma8().into_raw()),
        (false, false) => (3, img.into_rgb8().into_raw()),
        (true, true) => (1, flatten(&img.into_luma_alpha8().into_raw(), 1)),
        (false, true) => (3, flatten(&img.into_rgba8().into_raw(), 3)),
    };
    Ok(Raster { width: w, height: h, channels, data })
}

/// Composite pixels with a trailing alpha byte over white.
fn flatten(px: &[u8], colour: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(px.len() / (colour + 1) * colour);
    for p in px.chunks_exact(colour + 1) {
        let a = u32::from(p[colour]);
        for &c in &p[..colour] {
            out.push(((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8);
        }
    }
    out
}

fn target_size(w: u32, h: u32, long_edge: u32) -> Option<(u32, u32)> {
    let long = w.max(h);
    if long <= long_edge {
        return None;
    }
    let scale = f64::from(long_edge) / f64::from(long);
    let s = |v: u32| ((f64::from(v) * scale).round() as u32).clamp(1, long_edge);
    Some(if w >= h { (long_edge, s(h)) } else { (s(w), long_edge) })
}

fn resize_err(e: impl std::fmt::Display) -> PhotoError {
    PhotoError::Encode(format!("resize: {e}"))
}

fn resize_into(src: &Raster, w: u32, h: u32) -> Result<Raster, PhotoError> {
    let mut data = vec![0u8; w as usize * h as usize * usize::from(src.channels)];
    // The typed resizer for the two pixel types a raster has. `Resizer::resize` would dispatch
    // on the pixel type at run time and so link every type's kernels: about 2 MB of the
    // library, which every phone downloads.
    if src.channels == 1 {
        resize_typed::<fr::pixels::U8>(src, &mut data, w, h)?;
    } else {
        resize_typed::<fr::pixels::U8x3>(src, &mut data, w, h)?;
    }
    Ok(Raster { width: w, height: h, channels: src.channels, data })
}

fn resize_typed<P: fr::PixelTrait>(
    src: &Raster,
    dst: &mut [u8],
    w: u32,
    h: u32,
) -> Result<(), PhotoError> {
    let src_img = fr::images::TypedImageRef::<P>::from_buffer(src.width, src.height, &src.data)
        .map_err(resize_err)?;
    let mut dst_img = fr::images::TypedImage::<P>::from_buffer(w, h, dst).map_err(resize_err)?;
    let options =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3));
    fr::Resizer::new().resize_typed(&src_img, &mut dst_img, &options).map_err(resize_err)
}

/// Shrink to `long_edge` (consuming the big buffer so it is freed at once), or pass through.
fn downscale(src: Raster, long_edge: u32) -> Result<Raster, PhotoError> {
    match target_size(src.width, src.height, long_edge) {
        None => Ok(src),
        Some((w, h)) => resize_into(&src, w, h),
    }
}

fn downscale_copy(src: &Raster, long_edge: u32) -> Result<Option<Raster>, PhotoError> {
    match target_size(src.width, src.height, long_edge) {
        None => Ok(None),
        Some((w, h)) => resize_into(src, w, h).map(Some),
    }
}

/// Apply an EXIF orientation (1–8) so the image displays upright.
fn orient(mut r: Raster, orientation: u16) -> Raster {
    let (w, h, c) = (r.width as usize, r.height as usize, usize::from(r.channels));
    let swap_px = |d: &mut [u8], a: usize, b: usize| {
        for k in 0..c {
            d.swap(a * c + k, b * c + k);
        }
    };
    match orientation {
        2 => {
            for row in r.data.chunks_exact_mut(w * c) {
                for x in 0..w / 2 {
                    swap_px(row, x, w - 1 - x);
                }
            }
            r
        }
        3 => {
            let n = w * h;
            for i in 0..n / 2 {
                swap_px(&mut r.data, i, n - 1 - i);
            }
            r
        }
        4 => {
            for y in 0..h / 2 {
                let (top, bottom) = r.data.split_at_mut((h - 1 - y) * w * c);
                top[y * w * c..(y + 1) * w * c].swap_with_slice(&mut bottom[..w * c]);
            }
            r
        }
        5..=8 => {
            // Output is h wide and w high; (x, y) in the output reads (sx, sy) in the input.
            let (ow, oh) = (h, w);
            let mut out = vec![0u8; r.data.len()];
            for y in 0..oh {
                for x in 0..ow {
                    let (sx, sy) = match orientation {
                        5 => (y, x),
                        6 => (y, h - 1 - x),
                        7 => (w - 1 - y, h - 1 - x),
                        _ => (w - 1 - y, x),
                    };
                    let s = (sy * w + sx) * c;
                    let d = (y * ow + x) * c;
                    out[d..d + c].copy_from_slice(&r.data[s..s + c]);
                }
            }
            Raster { width: ow as u32, height: oh as u32, channels: r.channels, data: out }
        }
        _ => r,
    }
}

fn encode_jpeg(r: &Raster, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let (w, h) = (
        u16::try_from(r.width).map_err(|_| PhotoError::Encode("width over 65535".into()))?,
        u16::try_from(r.height).map_err(|_| PhotoError::Encode("height over 65535".into()))?,
    );
    let mut out = Vec::with_capacity(r.data.len() / 8);
    let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
    let ct = if r.channels == 1 {
        jpeg_encoder::ColorType::Luma
    } else {
        enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
        jpeg_encoder::ColorType::Rgb
    };
    enc.encode(&r.data, w, h, ct).map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn raster(w: u32, h: u32) -> Raster {
        // Each pixel holds its own (x, y) so transforms can be checked exactly.
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                data.extend([x as u8, y as u8, 7]);
            }
        }
        Raster { width: w, height: h, channels: 3, data }
    }

    fn at(r: &Raster, x: u32, y: u32) -> (u8, u8) {
        let i = ((y * r.width + x) * 3) as usize;
        (r.data[i], r.data[i + 1])
    }

    #[test]
    fn orientations_map_corners() {
        // Where the stored top-left pixel (0,0) must land after each orientation, for a 4x3 image.
        let expect = [
            (1, (4, 3), (0, 0)),
            (2, (4, 3), (3, 0)),
            (3, (4, 3), (3, 2)),
            (4, (4, 3), (0, 2)),
            (5, (3, 4), (0, 0)),
            (6, (3, 4), (2, 0)),
            (7, (3, 4), (2, 3)),
            (8, (3, 4), (0, 3)),
        ];
        for (o, dims, pos) in expect {
            let r = orient(raster(4, 3), o);
            assert_eq!((r.width, r.height), dims, "orientation {o}");
            assert_eq!(at(&r, pos.0, pos.1), (0, 0), "orientation {o}");
        }
    }

    #[test]
    fn target_sizes() {
        assert_eq!(target_size(3264, 2448, 2000), Some((2000, 1500)));
        assert_eq!(target_size(1976, 4608, 2000), Some((858, 2000)));
        assert_eq!(target_size(640, 480, 2000), None);
        assert_eq!(target_size(100_000, 1, 2000), Some((2000, 1)));
    }

    #[test]
    fn flatten_over_white() {
        assert_eq!(flatten(&[10, 20, 30, 255, 10, 20, 30, 0], 3), vec![10, 20, 30, 255, 255, 255]);
    }

    #[test]
    fn sniff_names_formats() {
        let name = |b: &[u8]| match sniff(b) {
            Err(PhotoError::UnsupportedFormat { format }) => format,
            other => format!("{other:?}"),
        };
        assert_eq!(name(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"), "HEIC");
        assert_eq!(name(b"\0\0\0\x18ftypmif1\0\0\0\0mif1heic"), "HEIC");
        assert_eq!(name(b"\0\0\0\x18ftypavif\0\0\0\0mif1avif"), "AVIF");
        assert_eq!(name(b"GIF89a...."), "GIF");
        assert_eq!(name(b"hello"), "unknown");
        assert!(matches!(sniff(b""), Err(PhotoError::Empty)));
    }
}
