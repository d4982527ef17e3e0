//! The core's module layers (`docs/architecture.md`): which top-level modules may use which.
//! A use of a module that its layer does not allow fails here, naming the file and the line.

use std::path::Path;

use safehome_testdata::layers::{Layer, violations};

/// Bottom to top. `form` includes `form::risk`; `store` is the one layer that joins the others.
const LAYERS: &[Layer] = &[
    Layer { module: "hex", may_use: &[] },
    Layer { module: "civil", may_use: &[] },
    Layer { module: "clock", may_use: &["hex"] },
    Layer { module: "canonical", may_use: &["hex"] },
    Layer { module: "crypto", may_use: &["clock", "hex"] },
    Layer { module: "form", may_use: &["civil", "clock", "hex"] },
    Layer { module: "location", may_use: &["civil", "clock", "hex"] },
    Layer { module: "evidence", may_use: &["clock", "crypto", "hex"] },
    Layer { module: "templates", may_use: &["form"] },
    // The analyst export reads decrypted submissions handed to it: never the store or sync.
    Layer { module: "export", may_use: &["civil", "form", "hex", "location"] },
    Layer {
        module: "store",
        may_use: &[
            "canonical",
            "civil",
            "clock",
            "crypto",
            "evidence",
            "form",
            "hex",
            "location",
            "templates",
        ],
    },
    // The sync engine drives the store's outbox; its `protocol` part uses only the layers
    // below the store, so the server can share it.
    Layer {
        module: "sync",
        may_use: &["canonical", "clock", "crypto", "evidence", "hex", "store"],
    },
];

#[test]
fn core_modules_keep_their_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let v = violations(&src, LAYERS);
    assert!(v.is_empty(), "module layering broken:\n{}", v.join("\n"));
}
