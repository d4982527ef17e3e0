//! The `safehome` command as a user runs it: output and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{code, safehome, stderr, stdout};

fn data(name: &str) -> String {
    common::data_in("", name)
}

fn temp(name: &str, contents: &str) -> String {
    common::temp("forms", name, contents)
}

#[test]
fn form_list_names_every_builtin() {
    let o = safehome(&["form", "list"]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    for id in ["household_screening", "injury_incident", "household_followup"] {
        assert!(out.contains(&format!("builtin:{id}")), "{out}");
    }
    assert!(!out.contains("BROKEN"), "{out}");
}

#[test]
fn form_validate_exit_codes() {
    let o = safehome(&["form", "validate", &data("roster.json")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("valid: roster_test"));

    let bad = temp(
        "bad.json",
        r#"{"id":"b","version":"1","title":{"en":"B"},"languages":["en"],"fields":[
            {"name":"a","type":"text"},{"name":"a","type":"integer","relevant":"${zz} > 1"}]}"#,
    );
    let o = safehome(&["form", "validate", &bad]);
    assert_eq!(code(&o), 1);
    let lines: Vec<_> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("a: ")), "{lines:?}");

    let o = safehome(&["form", "validate", "/nonexistent/form.json"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn form_fill_reports_violations_and_risk() {
    let answers = temp(
        "answers.json",
        r#"{"consent":"yes","commune":"05569","head":"Lò Văn Sáng","num_children":2,
            "children":[{"child_name":"Lò Thị Hoa","age":4},{"child_name":"Lò Văn Minh","age":10,"in_school":"no"}],
            "hazards":["pond"],"pond_fenced":"no"}"#,
    );
    let o =
        safehome(&["form", "fill", &data("roster.json"), "--answers", &answers, "--lang", "en"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Risk level: high (6 points;"), "{out}");
    assert!(out.contains("Lò Văn Minh is not in school"), "{out}");

    let o = safehome(&["form", "fill", &data("roster.json"), "--answers", &answers, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json output");
    assert_eq!(v["valid"], true);
    assert_eq!(v["assessment"]["level"], "high");
    assert_eq!(v["assessment"]["total_points"], 6);
    assert_eq!(v["data"]["young"], 1);

    let incomplete = temp("incomplete.json", r#"{"consent":"yes","num_children":1}"#);
    let o = safehome(&["form", "fill", &data("roster.json"), "--answers", &incomplete]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("children[1]/child_name:"), "{}", stdout(&o));

    let wrong = temp("wrong.json", r#"{"consent":"yes","num_children":"many"}"#);
    let o = safehome(&["form", "fill", &data("roster.json"), "--answers", &wrong]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("num_children"), "{}", stderr(&o));

    let o = safehome(&["form", "fill", "builtin:nope", "--answers", &wrong]);
    assert_eq!(code(&o), 2);
}

#[test]
fn form_show_prints_labels_in_the_chosen_language() {
    let o = safehome(&["form", "show", &data("roster.json"), "--lang", "en"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("Head of household"));
    let o = safehome(&["form", "show", &data("roster.json")]);
    assert!(stdout(&o).contains("Chủ hộ"));
    let o = safehome(&["form", "show", "builtin:household_screening", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["id"], "household_screening");
}

#[test]
fn expr_prints_json_values_and_columns_of_errors() {
    let vars = temp("vars.json", r#"{"age": 4, "ages": [3, 9, 12]}"#);
    let o = safehome(&["expr", "if(${age} < 6, 'young', 'older')", "--vars", &vars]);
    assert_eq!((code(&o), stdout(&o).trim()), (0, "\"young\""));
    let o = safehome(&["expr", "sum(${ages}) div count(${ages})", "--vars", &vars]);
    assert_eq!(stdout(&o).trim(), "8");
    let o = safehome(&["expr", "1 + + "]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("column"), "{}", stderr(&o));
    let o = safehome(&["expr", "${nope}"]);
    assert_eq!(code(&o), 1);
    let o = safehome(&["expr"]);
    assert_eq!(code(&o), 2);
    // An expression may start with `-`, before or after its options (XPath `mod` truncates).
    let o = safehome(&["expr", "-7 mod 3", "--vars", &vars]);
    assert_eq!((code(&o), stdout(&o).trim()), (0, "-1"), "{}", stderr(&o));
    let o = safehome(&["expr", "--vars", &vars, "--", "-${age} - 1"]);
    assert_eq!((code(&o), stdout(&o).trim()), (0, "-5"), "{}", stderr(&o));
    // After `--` everything is the expression: an option there is a usage error, not ignored.
    let o = safehome(&["expr", "--", "-7 mod 3", "--vars", &vars]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--vars"), "{}", stderr(&o));
}

/// The device's time zone is a setting (`--utc-offset`, SAFEHOME_UTC_OFFSET), Vietnam's by
/// default: a local time without an offset is read in it.
#[test]
fn utc_offset_is_a_setting_with_vietnam_by_default() {
    // 07:00 in Vietnam is the epoch; in UTC it is 7/24 of a day later.
    let seven = "decimal-date-time('1970-01-01T07:00:00')";
    let days = |o: &std::process::Output| {
        assert_eq!(code(o), 0, "{}", stderr(o));
        stdout(o).trim().parse::<f64>().unwrap()
    };
    assert_eq!(days(&safehome(&["expr", seven])), 0.0);
    assert_eq!(days(&safehome(&["--utc-offset", "+07:00", "expr", seven])), 0.0);
    assert_eq!(days(&safehome(&["--utc-offset", "420", "expr", seven])), 0.0);
    assert!(
        (days(&safehome(&["expr", seven, "--utc-offset", "+00:00"])) - 7.0 / 24.0).abs() < 1e-9
    );
    // A negative offset as its own argument, and from the environment.
    let o = safehome(&["--utc-offset", "-05:00", "expr", seven]);
    assert!((days(&o) - 12.0 / 24.0).abs() < 1e-9);
    let o = common::safehome_env(&["expr", seven], &[("SAFEHOME_UTC_OFFSET", "-300")]);
    assert!((days(&o) - 12.0 / 24.0).abs() < 1e-9);
    // The option wins over the environment.
    let o = common::safehome_env(
        &["--utc-offset", "+07:00", "expr", seven],
        &[("SAFEHOME_UTC_OFFSET", "-300")],
    );
    assert_eq!(days(&o), 0.0);

    // A bad offset is a usage error (exit 2) that says what is wrong, before anything runs.
    for (bad, why) in [
        ("+15:00", "outside the offsets in use, -12:00 to +14:00"),
        ("-12:01", "outside the offsets in use"),
        ("UTC+7", "is not an offset: write ±HH:MM (+07:00) or minutes east of UTC (420)"),
        ("+07:75", "is not an offset"),
        ("7", "did you mean `+7:00`?"),
    ] {
        let o = safehome(&["--utc-offset", bad, "expr", "1"]);
        assert_eq!(code(&o), 2, "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("--utc-offset"), "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{bad}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{bad}: {}", stdout(&o));
    }
    let o = common::safehome_env(&["expr", "1"], &[("SAFEHOME_UTC_OFFSET", "+99:00")]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("outside the offsets in use"), "{}", stderr(&o));
}

/// Every section the README promises, in both languages, from an empty working directory: the
/// demo's photo is inside the binary, and nothing beside the repository is needed
/// (scripts/fresh-clone.sh runs this test in a fresh clone).
#[test]
fn demo_shows_every_section_it_promises() {
    let empty = std::env::temp_dir().join(format!("safehome-demo-cwd-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let run = |lang: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_safehome"))
            .args(["demo", "--lang", lang])
            .current_dir(&empty)
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        stdout(&o)
    };
    let en = run("en");
    for section in [
        "Risk level: low",
        "Risk level: high",
        "Risk level: urgent",
        "pond photo: 640x480",
        "sealed, EXIF removed",
        "Supervisor's review queue",
        // The photo's EXIF puts it in Tuscany in 2008: flagged, with the reason and numbers.
        "⚑ photo_far_from_fix",
        "km from",
        "Photo opened with the province archive's key, device signature valid",
        "GPS sealed inside",
        "Team server: http://127.0.0.1:",
        "Sync with the team's server",
        "6 records acknowledged by signed receipts (7 outbox items)",
        "+ 1 photo received",
        // The supervisor's loop between the two phones.
        "records pulled, opened and signature-checked",
        "before its 12-hour deadline",
        "children[1]/child_age → Is Hà 10 or 11?",
        "revision and approved it; the volunteer sees: approved",
        "District console: cases with a recorded action: 1",
        "Officer's phone audit chain OK",
        "Outbox: 8 items, 8 acknowledged, 0 bytes waiting to upload",
        "audit chain OK",
    ] {
        assert!(en.contains(section), "demo output lacks {section:?}:\n{en}");
    }
    let vi = run("vi");
    for section in [
        "ảnh ao cá: 640x480",
        "đã niêm phong, đã xóa EXIF",
        "⚑ Vị trí GPS trong ảnh cách vị trí lần thăm",
        "Ảnh mở bằng khóa lưu trữ của tỉnh, chữ ký thiết bị hợp lệ",
        "Đồng bộ với máy chủ của nhóm",
        "6 hồ sơ đã được xác nhận bằng biên nhận có chữ ký",
        "+ 1 ảnh đã nhận",
        "trước hạn 12 giờ",
        "children[1]/child_age → Cháu Hà 10 hay 11 tuổi?",
        "tình nguyện viên thấy: đã phê duyệt",
        "Hộp thư đi: 8 mục, 8 đã xác nhận",
        "chuỗi nhật ký kiểm tra OK",
    ] {
        assert!(vi.contains(section), "demo output (vi) lacks {section:?}:\n{vi}");
    }
    std::fs::remove_dir_all(&empty).unwrap();
}

/// The demo's server holds nothing readable: every name, village and answer the demo's phone
/// entered is absent from every file of the server's data folder (database, write-ahead log,
/// evidence, uploads), which `--keep` leaves behind.
#[test]
fn the_demo_server_holds_no_plaintext() {
    let keep = std::env::temp_dir().join(format!("safehome-demo-keep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&keep);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_safehome"))
        .args(["demo", "--lang", "en", "--keep"])
        .arg(&keep)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let examples: serde_json::Value =
        serde_json::from_str(safehome_core::templates::EXAMPLE_HOUSEHOLDS).unwrap();
    // The supervisor's decisions (their notes and comments) are sealed too.
    let mut secrets: Vec<String> = vec![
        "Hoàng Gia Bảo".into(),
        "Lục Văn Toàn".into(),
        "commune police".into(),
        "Is Hà 10 or 11?".into(),
        "Please check the child's age.".into(),
    ];
    for ex in examples.as_array().unwrap() {
        let a = &ex["answers"];
        for key in ["head_name", "village"] {
            secrets.push(a[key].as_str().unwrap().to_string());
        }
        secrets.push(format!("{}", a["household_gps"]["lat"].as_f64().unwrap()));
    }
    let mut files = vec![];
    let mut stack = vec![keep.join("server")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    assert!(files.iter().any(|f| f.to_string_lossy().contains("blobs")), "{files:?}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for secret in &secrets {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{} holds {secret:?}", f.display());
        }
    }
    // The phone's own database is encrypted too: its names are not in the clear either.
    // So are both phones' databases: the volunteer's, and the officer's with the records it
    // pulled and the decisions it made.
    for phone in ["safehome.db", "supervisor.db"] {
        let db = std::fs::read(keep.join(phone)).unwrap();
        for secret in &secrets {
            let found = db.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{phone} holds {secret:?}");
        }
    }
    std::fs::remove_dir_all(&keep).unwrap();
}

fn xlsform(name: &str) -> String {
    safehome_testdata::xlsforms_dir().join(name).display().to_string()
}

fn repo_file(rel: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel).display().to_string()
}

#[test]
fn form_import_writes_json_or_lists_problems_at_their_cells() {
    let out = common::temp("forms", "tutorial.json", "");
    let o = safehome(&["form", "import", &xlsform("tutorial.xlsx"), "-o", &out]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let json = std::fs::read_to_string(&out).unwrap();
    let form: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(form["id"], "tutorial");
    let o = safehome(&["form", "validate", &out]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));

    // Refused: one `sheet!CELL: message` line per problem, exit 1.
    let o = safehome(&["form", "import", &xlsform("UCL_Biomass_Plot_Form.xlsx"), "-o", &out]);
    assert_eq!(code(&o), 1);
    let lines: Vec<String> = stderr(&o).lines().map(str::to_string).collect();
    assert!(lines.len() >= 8, "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("survey!")), "{lines:?}");
    assert!(lines[0].starts_with("survey!A16: select_one_from_file"), "{lines:?}");

    // Unreadable: exit 2.
    let not_xlsx = temp("not.xlsx", "type,name\ntext,a\n");
    let o = safehome(&["form", "import", &not_xlsx]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("not an .xlsx"), "{}", stderr(&o));
    let o = safehome(&["form", "import", "/nonexistent/form.xlsx"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn form_validate_show_and_fill_take_a_spreadsheet() {
    let xlsx = repo_file("docs/forms/household_screening.xlsx");
    let o = safehome(&["form", "validate", &xlsx]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).starts_with("valid: household_screening"), "{}", stdout(&o));
    let o = safehome(&["form", "validate", &xlsform("or_other.xlsx")]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).starts_with("survey!A2: or_other select"), "{}", stdout(&o));

    let from_sheet = safehome(&["form", "show", &xlsx, "--lang", "en"]);
    let from_json = safehome(&["form", "show", "builtin:household_screening", "--lang", "en"]);
    assert_eq!(code(&from_sheet), 0);
    assert_eq!(stdout(&from_sheet), stdout(&from_json));

    let households: serde_json::Value =
        serde_json::from_str(safehome_core::templates::EXAMPLE_HOUSEHOLDS).unwrap();
    let answers = temp("hh.json", &households[1]["answers"].to_string());
    let fill = |form: &str| {
        let o = safehome(&["form", "fill", form, "--answers", &answers, "--json"]);
        let mut v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        // The clock is the system's: the times differ by the milliseconds between the runs.
        for key in ["due_at", "assessed_at", "due_at_ms", "assessed_at_ms"] {
            v["assessment"][key] = serde_json::Value::Null;
        }
        (code(&o), v)
    };
    assert_eq!(fill(&xlsx), fill("builtin:household_screening"));
}

#[test]
fn form_export_round_trips_through_import() {
    let xlsx = common::temp("forms", "followup.xlsx", "");
    let o = safehome(&["form", "export", "builtin:household_followup", "-o", &xlsx]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = safehome(&["form", "import", &xlsx]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o2 = safehome(&["form", "show", "builtin:household_followup", "--json"]);
    let a: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let b: serde_json::Value = serde_json::from_str(&stdout(&o2)).unwrap();
    assert_eq!(a, b);
}
