//! The load shapes of `safehome bench upload`, and ODK Central's figures for the same shapes
//! where they were measured (the anchor).

/// One load shape.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub clients: usize,
    pub devices: usize,
    pub submissions: usize,
    pub photo_bytes: usize,
    /// Each upload is read back from whichever process is next: the evidence's offset by tus
    /// `HEAD` after its last chunk, the receipt by `GET` after the submission. With several
    /// processes this checks that what one process wrote, another sees.
    pub read_back: bool,
    /// ODK Central on a 2-core machine (the anchor's figures, copied: docs/protocol.md).
    pub anchor: Option<Anchor>,
}

/// ODK Central's ranges over runs: submissions/s, p50 ms, p99 ms, node's peak RSS MiB.
#[derive(Debug, Clone, Copy)]
pub struct Anchor {
    pub per_s: (f64, f64),
    pub p50_ms: (f64, f64),
    pub p99_ms: (f64, f64),
    pub rss_mib: (f64, f64),
}

/// The size of the photo of the `anchor`, `fleet` and `province` photo cases (302 KiB).
const PHOTO: usize = 309_570;

/// What a case's command-line overrides may change; each is bounded so that a run stops.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    pub devices: Option<usize>,
    pub submissions: Option<usize>,
    pub clients: Option<usize>,
}

pub const MAX_DEVICES: usize = 20_000;
pub const MAX_SUBMISSIONS: usize = 200_000;
pub const MAX_CLIENTS: usize = 64;

impl Overrides {
    fn apply(&self, mut case: Case) -> Result<Case, String> {
        let check = |what: &str, v: usize, max: usize| {
            if v == 0 || v > max { Err(format!("--{what} must be 1 to {max}")) } else { Ok(v) }
        };
        if let Some(v) = self.devices {
            case.devices = check("devices", v, MAX_DEVICES)?;
        }
        if let Some(v) = self.submissions {
            case.submissions = check("submissions", v, MAX_SUBMISSIONS)?;
        }
        if let Some(v) = self.clients {
            case.clients = check("clients", v, MAX_CLIENTS)?;
        }
        if self.devices.is_some() || self.submissions.is_some() || self.clients.is_some() {
            // Central's figures are for the case's own shape, not for this one.
            case.anchor = None;
            case.name = format!(
                "{}: {} devices, {} submissions, {} clients",
                case.name.split(':').next().unwrap_or(""),
                case.devices,
                case.submissions,
                case.clients
            );
        }
        Ok(case)
    }
}

pub fn cases(which: &str, overrides: &Overrides) -> Result<Vec<Case>, String> {
    let central_1 = Anchor {
        per_s: (57.5, 98.1),
        p50_ms: (8.3, 11.5),
        p99_ms: (19.5, 65.2),
        rss_mib: (321.0, 330.0),
    };
    let central_8 = Anchor {
        per_s: (111.4, 158.1),
        p50_ms: (48.2, 71.0),
        p99_ms: (111.6, 125.5),
        rss_mib: (343.0, 380.0),
    };
    let central_photo = Anchor {
        per_s: (54.9, 66.5),
        p50_ms: (55.6, 68.2),
        p99_ms: (121.5, 132.3),
        rss_mib: (393.0, 432.0),
    };
    let case = |name: &str, clients, devices, submissions, photo_bytes, anchor| Case {
        name: name.into(),
        clients,
        devices,
        submissions,
        photo_bytes,
        read_back: false,
        anchor,
    };
    let list = match which {
        "anchor" => vec![
            case("1 client, 1,000 submissions", 1, 10, 1_000, 0, Some(central_1)),
            case("8 clients, 2,000 submissions", 8, 80, 2_000, 0, Some(central_8)),
            case("4 clients, 500 with a 302 KiB photo", 4, 40, 500, PHOTO, Some(central_photo)),
        ],
        "fleet" => vec![case(
            "200 devices x 20, each with a 302 KiB photo (8 clients)",
            8,
            200,
            4_000,
            PHOTO,
            Some(central_photo),
        )],
        "quick" => vec![
            case("quick: 2 clients, 100 submissions", 2, 4, 100, 0, Some(central_8)),
            case("quick: 2 clients, 40 with a photo", 2, 4, 40, PHOTO, Some(central_photo)),
        ],
        // A province's phones: each device enrolled with its own key and code, two
        // submissions each with a photo, every upload read back (no Central figures: its
        // anchor runs had 40 to 200 devices).
        "province" => vec![Case {
            read_back: true,
            ..case(
                "province: 2,000 devices x 2, each with a 302 KiB photo (8 clients)",
                8,
                2_000,
                4_000,
                PHOTO,
                None,
            )
        }],
        other => {
            return Err(format!("--cases: unknown '{other}' (anchor, fleet, quick or province)"));
        }
    };
    list.into_iter().map(|c| overrides.apply(c)).collect()
}
