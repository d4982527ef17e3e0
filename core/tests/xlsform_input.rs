//! The XLSForm importer on what authors and attackers hand it: misspellings and mistakes (every
//! problem at once, each at its cell, with "did you mean"), features the engine does not have,
//! and bad files (corrupt, not xlsx, zip bombs, a million rows, formulas, merged cells, empty
//! rows, stray spaces, Vietnamese in NFC and NFD). Each gives a correct read or a typed error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Cursor, Write};

use rust_xlsxwriter::{Format, Formula, Workbook};
use safehome_core::form::check::CheckedForm;
use safehome_core::form::model::{Condition, FieldKind};
use safehome_core::form::xlsform::{self, XlsformError};

type Sheet<'a> = (&'a str, &'a [&'a [&'a str]]);

/// A workbook of text cells; an empty string leaves the cell empty.
fn book(sheets: &[Sheet<'_>]) -> Vec<u8> {
    let mut wb = Workbook::new();
    for (name, rows) in sheets {
        let ws = wb.add_worksheet().set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                if !cell.is_empty() {
                    ws.write_string(r as u32, c as u16, *cell).unwrap();
                }
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

fn import(bytes: &[u8]) -> Result<CheckedForm, XlsformError> {
    xlsform::import_bytes(bytes, "test_form")
}

fn problems(bytes: &[u8]) -> Vec<String> {
    match import(bytes) {
        Err(XlsformError::Problems(p)) => p.iter().map(ToString::to_string).collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

fn unreadable(bytes: &[u8]) -> String {
    match import(bytes) {
        Err(XlsformError::Unreadable(m)) => m,
        other => panic!("expected an unreadable file, got {other:?}"),
    }
}

const CHOICES: &[&[&str]] =
    &[&["list_name", "name", "label"], &["yn", "yes", "Có"], &["yn", "no", "Không"]];

#[test]
fn every_problem_at_once_each_at_its_cell_with_did_you_mean() {
    let survey: &[&[&str]] = &[
        &["type", "name", "label", "relevent", "calculation"],
        &["integer", "age", "Tuổi", "", ""],
        &["intger", "weight", "Cân nặng", "", ""],
        &["select_one yn2", "pond", "Có ao?", "", ""],
        &["calculate", "double", "", "", "${agee} * 2"],
        &["text", "age", "Trùng tên", "", ""],
    ];
    let got = problems(&book(&[("survey", survey), ("choices", CHOICES)]));
    let want = [
        "survey!D1: unknown column `relevent` (did you mean 'relevant'?)",
        "survey!A3: unknown type `intger` (did you mean 'integer'?)",
        "survey!A4: unknown choice list 'yn2' (did you mean 'yn'?)",
        "survey!E5: calculation column 1: reference to unknown field ${agee} (did you mean 'age'?)",
        "survey!B6: duplicate name `age` (also at age)",
    ];
    assert_eq!(got, want, "{got:#?}");
}

#[test]
fn unsupported_features_are_refused_with_their_row_and_name() {
    let survey: &[&[&str]] = &[
        &["type", "name", "label", "appearance", "calculation"],
        &["text", "a", "A", "", ""],
        &["geotrace", "route", "Route", "", ""],
        &["audio", "voice", "Voice", "", ""],
        &["select_one yn or_other", "s", "S", "", ""],
        &["select_one yn", "s2", "S2", "search('villages')", ""],
        &["calculate", "p", "", "", "pulldata('f', 'c', 'k', ${a})"],
        &["select_one_from_file villages.csv", "v", "V", "", ""],
        &["begin loop over yn", "l", "", "", ""],
        &["end loop", "", "", "", ""],
        &["range", "r", "R", "", ""],
    ];
    let entities: &[&[&str]] = &[&["dataset", "label"], &["trees", "concat(${a})"]];
    let got = problems(&book(&[("survey", survey), ("choices", CHOICES), ("entities", entities)]));
    for (cell, feature) in [
        ("survey!A3", "geotrace question"),
        ("survey!A4", "audio question"),
        ("survey!A5", "or_other select"),
        ("survey!D6", "search() appearance"),
        ("survey!E7", "pulldata() in calculation"),
        ("survey!A8", "select_one_from_file"),
        ("survey!A9", "loop over a choice list"),
        ("survey!A11", "range question"),
        ("entities", "entities sheet"),
    ] {
        assert!(
            got.iter().any(|p| p.starts_with(&format!("{cell}: {feature}"))),
            "{cell} {feature} not reported: {got:#?}"
        );
    }
    // Nothing is reported twice, and the field after an unsupported one still reads.
    assert!(!got.iter().any(|p| p.contains("unknown field")), "{got:#?}");
}

#[test]
fn group_and_repeat_spellings_nest_and_mismatches_are_named() {
    let survey: &[&[&str]] = &[
        &["type", "name", "label", "required", "read_only"],
        &["begin_group", "hh", "Hộ", "", ""],
        &["Begin Repeat", "kids", "Trẻ", "", ""],
        &["text", "kid", "Tên", "YES", "true()"],
        &["integer", "kid_age", "Tuổi", "${kid} != ''", "no"],
        &["end_repeat", "", "", "", ""],
        &["begin looped group", "pets", "Vật nuôi", "", ""],
        &["text", "pet", "Tên", "FALSE", ""],
        &["end repeat", "", "", "", ""],
        &["end group", "", "", "", ""],
    ];
    let form = import(&book(&[("survey", survey)])).unwrap();
    let paths: Vec<(&str, FieldKind)> =
        form.fields.iter().map(|f| (f.path.as_str(), f.def.kind)).collect();
    assert_eq!(
        paths,
        [
            ("hh", FieldKind::Group),
            ("hh/kids", FieldKind::Repeat),
            ("hh/kids/kid", FieldKind::Text),
            ("hh/kids/kid_age", FieldKind::Integer),
            ("hh/pets", FieldKind::Repeat),
            ("hh/pets/pet", FieldKind::Text),
        ]
    );
    let kid = &form.fields[2].def;
    assert_eq!(
        (kid.required.clone(), kid.read_only.clone()),
        (Condition::Always(true), Condition::Always(true))
    );
    let age = &form.fields[3].def;
    assert_eq!(age.required, Condition::When("${kid} != ''".into()));
    assert_eq!(age.read_only, Condition::Always(false));

    let broken: &[&[&str]] = &[
        &["type", "name", "label"],
        &["begin group", "g", "G"],
        &["text", "a", "A"],
        &["end repeat", "", ""],
        &["end group", "", ""],
        &["begin repeat", "r", "R"],
        &["text", "b", "B"],
    ];
    let got = problems(&book(&[("survey", broken)]));
    assert_eq!(
        got,
        [
            "survey!A4: `end repeat` closes the group 'g' begun on row 2",
            "survey!A5: `end group` with no group or repeat open",
            "survey!A6: repeat 'r' has no end repeat",
        ],
        "{got:#?}"
    );
}

#[test]
fn languages_come_from_the_headers_and_settings() {
    let survey: &[&[&str]] = &[
        &["type", "name", "label::Tiếng Việt (vi)", "label :: English (en)", "hint::English (en)"],
        &["text", "head", "Chủ hộ", "Head of household", "Full name"],
    ];
    let settings: &[&[&str]] = &[
        &["form_id", "version", "form_title", "default_language", "instance_name"],
        &["hh", "2026.2", "Hộ gia đình", "Tiếng Việt (vi)", "${head}"],
    ];
    let form = import(&book(&[("survey", survey), ("settings", settings)])).unwrap();
    let f = &form.form;
    assert_eq!(f.languages, ["vi", "en"]);
    assert_eq!((f.id.as_str(), f.version.as_str()), ("hh", "2026.2"));
    assert_eq!(f.title.get("vi").map(String::as_str), Some("Hộ gia đình"));
    assert_eq!(f.instance_name.as_deref(), Some("${head}"));
    let head = &f.fields[0];
    assert_eq!(head.label.get("en").map(String::as_str), Some("Head of household"));
    assert_eq!(head.hint.get("en").map(String::as_str), Some("Full name"));
}

#[test]
fn a_risk_sheet_carries_the_rules_and_settings_the_thresholds() {
    let survey: &[&[&str]] =
        &[&["type", "name", "label"], &["select_one yn", "pond", "Có ao không rào?"]];
    let settings: &[&[&str]] = &[
        &["form_id", "risk_medium", "risk_high", "response_hours_medium"],
        &["r", "3", "8", "720"],
    ];
    let risk: &[&[&str]] = &[
        &["rule", "category", "when", "points", "urgent", "reason"],
        &["pond", "drowning", "${pond} = 'yes'", "4", "", "Ao không rào"],
        &["abuse", "violence_abus", "${pond} = 'no'", "", "yes", "x"],
        &["bad", "falls", "${pnd} = 'yes'", "two", "", "x"],
    ];
    let with_risk = |risk: &[&[&str]]| {
        import(&book(&[
            ("survey", survey),
            ("choices", CHOICES),
            ("settings", settings),
            ("risk", risk),
        ]))
    };
    let got = match with_risk(risk) {
        Err(XlsformError::Problems(p)) => p.iter().map(ToString::to_string).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        got,
        [
            "risk!B3: unknown risk category `violence_abus` (did you mean 'violence_abuse'?)",
            "risk!D4: points must be a whole number, not `two`",
        ],
        "{got:#?}"
    );
    // The definition check's problem with a rule lands on its condition's cell.
    let misspelt: &[&[&str]] =
        &[risk[0], &["abuse", "violence_abuse", "${pnd} = 'no'", "", "yes", "x"]];
    match with_risk(misspelt) {
        Err(XlsformError::Problems(p)) => {
            assert_eq!(p.len(), 1, "{p:#?}");
            assert!(p[0].to_string().starts_with("risk!C2: ") && p[0].message.contains("${pnd}"));
        }
        other => panic!("{other:?}"),
    }
    let good: &[&[&str]] =
        &[risk[0], risk[1], &["abuse", "violence_abuse", "${pond} = 'no'", "", "yes", "x"]];
    let form = with_risk(good).unwrap().form;
    let spec = form.risk.unwrap();
    assert_eq!((spec.thresholds.medium, spec.thresholds.high), (3, 8));
    assert_eq!(spec.response_hours.medium, Some(720));
    assert_eq!(spec.response_hours.urgent, Some(12));
    let ids: Vec<(&str, u32, bool)> =
        spec.rules.iter().map(|r| (r.id.as_str(), r.points, r.urgent)).collect();
    assert_eq!(ids, [("pond", 4, false), ("abuse", 0, true)]);
    assert_eq!(spec.rules[0].reason.get("default").map(String::as_str), Some("Ao không rào"));
}

#[test]
fn corrupt_and_foreign_files_are_unreadable() {
    let good = book(&[("survey", &[&["type", "name", "label"], &["text", "a", "A"]])]);
    assert!(import(&good).is_ok());
    assert!(unreadable(&good[..good.len() / 2]).contains("zip"));
    assert!(unreadable(b"").contains("not an .xlsx"));
    assert!(unreadable(b"type,name,label\ntext,a,A\n").contains("not a zip"));
    assert!(unreadable(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0]).contains(".xls"));
    // A zip that is not a workbook.
    let not_a_book = safehome_testdata::zip_bomb(1000, 1000);
    let m = unreadable(&not_a_book);
    assert!(m.contains("workbook") || m.contains("xlsx"), "{m}");
    // Bytes flipped all over a real workbook: never a panic, always a typed answer.
    for step in [7usize, 31, 101, 499] {
        let mut bytes = good.clone();
        for i in (30..bytes.len()).step_by(step) {
            bytes[i] ^= 0x5A;
        }
        let _ = import(&bytes);
    }
}

#[test]
fn zip_bombs_are_refused_before_they_inflate() {
    // 1 GiB of zeros in 6.5 MB of deflate, declared honestly: refused from the header.
    let honest = safehome_testdata::zip_bomb(1 << 30, 1 << 30);
    assert!(unreadable(&honest).contains("MAX_UNPACKED_BYTES"));
    // The same with the header lying (1 KB): inflated into a counter that stops at the limit.
    let lying = safehome_testdata::zip_bomb(1 << 30, 1024);
    let m = unreadable(&lying);
    assert!(m.contains("MAX_UNPACKED_BYTES") || m.contains("xlsx"), "{m}");
    // A file over the size limit is refused before it is read through.
    let dir = std::env::temp_dir().join(format!("safehome-xlsform-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.xlsx");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(xlsform::MAX_FILE_BYTES + 1).unwrap();
    match xlsform::import_path(&big) {
        Err(XlsformError::Unreadable(m)) => assert!(m.contains("MAX_FILE_BYTES"), "{m}"),
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `base` with its first sheet's XML replaced by what `write` streams out, compressed at
/// deflate's fastest level (a million rows would take rust_xlsxwriter's writer ~1 GB).
fn with_sheet_xml(base: &[u8], write: impl Fn(&mut dyn Write) -> std::io::Result<()>) -> Vec<u8> {
    let mut src = zip::ZipArchive::new(Cursor::new(base)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    for i in 0..src.len() {
        let entry = src.by_index_raw(i).unwrap();
        if entry.name().unwrap() == "xl/worksheets/sheet1.xml" {
            drop(entry);
            out.start_file("xl/worksheets/sheet1.xml", options).unwrap();
            write(&mut out).unwrap();
        } else {
            out.raw_copy_file(entry).unwrap();
        }
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn a_cell_repeated_a_million_times_is_refused() {
    let base = book(&[("survey", &[&["type", "name"]])]);
    let bytes = with_sheet_xml(&base, |w| {
        w.write_all(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet \
              xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>\
              <row r=\"1\">",
        )?;
        for _ in 0..1_000_000u32 {
            w.write_all(b"<c r=\"A1\" t=\"inlineStr\"><is><t>type</t></is></c>")?;
        }
        w.write_all(b"</row></sheetData></worksheet>")
    });
    let m = unreadable(&bytes);
    assert!(m.contains("MAX_COLUMNS"), "{m}");
}

#[test]
fn a_million_rows_are_refused_after_the_row_limit() {
    let base = book(&[("survey", &[&["type", "name"]])]);
    let bytes = with_sheet_xml(&base, |w| {
        w.write_all(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet \
              xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>",
        )?;
        for r in 1..=1_000_000u32 {
            write!(w, "<row r=\"{r}\"><c r=\"B{r}\"><v>{r}</v></c></row>")?;
        }
        w.write_all(b"</sheetData></worksheet>")
    });
    assert!(bytes.len() < 16 << 20, "{} bytes", bytes.len());
    let m = unreadable(&bytes);
    assert!(m.contains("MAX_SHEET_ROWS") && m.contains("survey"), "{m}");
}

/// A survey with a name computed by a formula (row 2), empty rows 3-5, a label merged across
/// both language columns and stray spaces (row 6), a calculation over a padded name (row 7) and,
/// when `with_error`, a label that is a formula's error value (row 9).
fn formula_book(with_error: bool) -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("survey").unwrap();
    for (c, h) in ["type", "name", "label::vi", "label::en", "calculation"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_string(1, 0, "text").unwrap();
    ws.write_formula(1, 1, Formula::new("=CONCAT(\"hh\",\"_name\")").set_result("hh_name"))
        .unwrap();
    ws.write_string(1, 2, "Tên chủ hộ").unwrap();
    ws.write_string(5, 0, "  integer ").unwrap();
    ws.write_string(5, 1, "age   ").unwrap();
    ws.merge_range(5, 2, 5, 3, "Tuổi", &Format::new()).unwrap();
    ws.write_string(6, 0, "calculate").unwrap();
    ws.write_string(6, 1, " twice ").unwrap();
    ws.write_string(6, 4, "${age} * 2").unwrap();
    if with_error {
        ws.write_string(8, 0, "note").unwrap();
        ws.write_string(8, 1, "n").unwrap();
        ws.write_formula(8, 2, Formula::new("=1/0").set_result("#DIV/0!")).unwrap();
    }
    wb.save_to_buffer().unwrap()
}

#[test]
fn formulas_merged_cells_empty_rows_and_spaces() {
    // A formula error is named at its cell, as the only problem.
    let got = problems(&formula_book(true));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0].starts_with("survey!C9: ") && got[0].contains("formula error"), "{got:#?}");

    // Formulas read as their cached values (as pyxform reads them), names are trimmed, a merged
    // range is its first cell's, empty rows are skipped.
    let form = import(&formula_book(false)).unwrap();
    let names: Vec<&str> = form.fields.iter().map(|f| f.def.name.as_str()).collect();
    assert_eq!(names, ["hh_name", "age", "twice"]);
    let age = &form.fields[1].def;
    assert_eq!(age.kind, FieldKind::Integer);
    assert_eq!(age.label.get("vi").map(String::as_str), Some("Tuổi"));
    assert_eq!(age.label.get("en"), None);
}

#[test]
fn vietnamese_in_nfd_reads_as_nfc() {
    let nfc = "Tuổi của trẻ";
    let nfd = "Tu\u{006F}\u{0302}\u{0309}i cu\u{0309}a tre\u{0309}";
    assert_ne!(nfc, nfd);
    let survey: &[&[&str]] = &[
        &["type", "name", "label", "choice_filter"],
        &["text", "commune", nfd, ""],
        &["select_one place", "village", "Thôn", "xa = ${commune}"],
    ];
    let choices: &[&[&str]] =
        &[&["list_name", "name", "label", "xa"], &["place", "t1", "Thôn Nà Hin", "Na\u{0300} Hin"]];
    let form = import(&book(&[("survey", survey), ("choices", choices)])).unwrap();
    assert_eq!(form.form.fields[0].label.get("default").map(String::as_str), Some(nfc));
    let choice = &form.form.choices["place"][0];
    assert_eq!(choice.filter.get("xa").map(String::as_str), Some("Nà Hin"));
}

#[test]
fn metadata_rows_are_not_fields_and_a_missing_survey_is_named() {
    let survey: &[&[&str]] = &[
        &["type", "name", "label"],
        &["start", "start", ""],
        &["deviceid", "d", ""],
        &["text", "a", "A"],
    ];
    let form = import(&book(&[("survey", survey)])).unwrap();
    assert_eq!(form.fields.len(), 1);
    let got = problems(&book(&[("questions", survey), ("choices", CHOICES)]));
    assert_eq!(got, ["survey: the workbook has no `survey` sheet (sheets: questions, choices)"]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// Damaged copies of a real spreadsheet (bytes flipped, the end cut off) give a form or a
    /// typed error, never a panic.
    #[test]
    fn damaged_spreadsheets_never_panic(
        flips in proptest::collection::vec((proptest::prelude::any::<usize>(), 1u8..), 0..8),
        cut in proptest::option::of(proptest::prelude::any::<usize>()),
    ) {
        let path = safehome_testdata::xlsforms_dir().join("tutorial.xlsx");
        let bytes = safehome_testdata::mutate(std::fs::read(path).unwrap(), &flips, cut);
        let _ = import(&bytes);
    }
}
