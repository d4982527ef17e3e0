//! The bindings' module layers (`docs/architecture.md`): which modules may use which. A use of a
//! module that its layer does not allow fails here, naming the file and the line.

use std::path::Path;

use safehome_testdata::layers::{Layer, violations};

/// Bottom to top: the error type; the call guard; the log facade; the objects.
const LAYERS: &[Layer] = &[
    Layer { module: "errors", may_use: &[] },
    Layer { module: "ffibuffer_shims", may_use: &[] },
    Layer { module: "guard", may_use: &["errors"] },
    Layer { module: "logging", may_use: &["errors", "guard"] },
    Layer { module: "progress", may_use: &["errors", "logging"] },
    Layer { module: "anchor", may_use: &["errors", "logging"] },
    Layer { module: "handle", may_use: &["errors"] },
    Layer { module: "transport", may_use: &["errors"] },
    Layer { module: "sync", may_use: &["errors", "logging", "progress", "transport"] },
    Layer { module: "answer", may_use: &["errors"] },
    Layer { module: "records", may_use: &["answer", "errors"] },
    Layer { module: "keys", may_use: &["errors", "guard", "records"] },
    Layer { module: "form", may_use: &["errors", "guard", "records"] },
    Layer { module: "session", may_use: &["answer", "errors", "form", "guard", "records"] },
    Layer { module: "location", may_use: &["errors", "guard", "logging", "records"] },
    Layer {
        module: "draft",
        may_use: &["answer", "errors", "form", "guard", "handle", "logging", "progress", "records"],
    },
    Layer {
        module: "store",
        may_use: &[
            "anchor",
            "draft",
            "errors",
            "guard",
            "handle",
            "location",
            "logging",
            "progress",
            "records",
            "sync",
            "transport",
        ],
    },
];

#[test]
fn bindings_modules_keep_their_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let v = violations(&src, LAYERS);
    assert!(v.is_empty(), "module layering broken:\n{}", v.join("\n"));
}
