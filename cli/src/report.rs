//! Human-readable reports shared by `form fill` and `demo`.

use safehome_core::form::session::{Session, ValidationReport};
use safehome_core::risk::Assessment;

pub fn print_validation(session: &Session, v: &ValidationReport) {
    let p = session.progress();
    let name = session.instance_name();
    let name = if name.is_empty() { String::new() } else { format!(" — {name}") };
    if v.is_valid() {
        println!("complete and valid{name}: {}/{} questions answered", p.answered, p.total);
    } else {
        println!("{} problem(s){name}:", v.violations.len());
        for x in &v.violations {
            println!("  {}: {}", x.path, x.message);
        }
    }
}

pub fn print_assessment(a: &Assessment, lang: &str) {
    let level = if lang == "vi" { a.level.label_vi() } else { a.level.as_str() };
    let deadline = match a.response_hours {
        Some(h) if lang == "vi" => format!("; xử lý trong {h} giờ"),
        Some(h) => format!("; act within {h} hours"),
        None => String::new(),
    };
    let (pts, word) =
        if lang == "vi" { ("điểm", "Mức nguy cơ") } else { ("points", "Risk level") };
    println!(
        "{word}: {level} ({} {pts}; medium >= {}, high >= {}){deadline}",
        a.total_points, a.thresholds.medium, a.thresholds.high
    );
    for c in &a.categories {
        println!("  {:<22} {:>3} {pts} from {} rule(s)", c.category.as_str(), c.points, c.rules);
    }
    for t in &a.triggered {
        let mark = if t.urgent { "URGENT".to_string() } else { format!("+{}", t.points) };
        let at = t.instance.as_deref().map(|i| format!(" [{i}]")).unwrap_or_default();
        println!("  {mark:>6} {}{at}: {}", t.rule_id, t.reason);
    }
    for e in &a.errors {
        println!("  rule error: {e}");
    }
}
