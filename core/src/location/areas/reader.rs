//! GeoJSON reading: a FeatureCollection streamed one feature at a time into [`AreaInput`]s, with
//! errors that name the feature (and the line and column of a syntax error).

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{AreaError, AreaErrorKind, AreaInput, AreasError, ImportOptions};

/// Read a FeatureCollection, one feature at a time (a feature's JSON is dropped as soon as it has
/// been converted), recording which feature a syntax error falls in.
pub(super) fn read_collection(
    text: &str,
    opts: &ImportOptions,
) -> Result<Vec<Result<AreaInput, AreaError>>, AreasError> {
    let current = Cell::new(None);
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = CollectionSeed { opts, current: &current, out: &mut out };
    let kind = match seed.deserialize(&mut de).and_then(|k| de.end().map(|()| k)) {
        Ok(k) => k,
        Err(e) => {
            let (line, column, message) = (e.line(), e.column(), strip_position(&e.to_string()));
            if let Some(index) = current.get() {
                out.push(Err(AreaError {
                    index,
                    code: None,
                    kind: AreaErrorKind::Json { line, column, message },
                }));
                return Ok(out);
            }
            return Err(if e.is_data() {
                AreasError::NotFeatureCollection(message)
            } else {
                AreasError::Json { line, column, message }
            });
        }
    };
    match kind {
        Some(t) if t == "FeatureCollection" => Ok(out),
        Some(t) => Err(AreasError::NotFeatureCollection(format!("type is `{t}`"))),
        None => Err(AreasError::NotFeatureCollection("no `type` member".into())),
    }
}

/// serde_json appends " at line L column C"; the error carries those as numbers already.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

struct CollectionSeed<'a> {
    opts: &'a ImportOptions,
    current: &'a Cell<Option<usize>>,
    out: &'a mut Vec<Result<AreaInput, AreaError>>,
}

impl<'de> DeserializeSeed<'de> for CollectionSeed<'_> {
    type Value = Option<String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CollectionSeed<'_> {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a GeoJSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kind = None;
        let mut seen_features = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => kind = Some(map.next_value::<String>()?),
                "features" if !seen_features => {
                    seen_features = true;
                    map.next_value_seed(FeaturesSeed {
                        opts: self.opts,
                        current: self.current,
                        out: &mut *self.out,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !seen_features && kind.as_deref() == Some("FeatureCollection") {
            return Err(de::Error::custom("no `features` member"));
        }
        Ok(kind)
    }
}

struct FeaturesSeed<'a, 'b> {
    opts: &'a ImportOptions,
    current: &'a Cell<Option<usize>>,
    out: &'b mut Vec<Result<AreaInput, AreaError>>,
}

impl<'de> DeserializeSeed<'de> for FeaturesSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FeaturesSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of features")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            self.current.set(Some(i));
            match seq.next_element::<Value>()? {
                Some(v) => self.out.push(feature_from_json(i, &v, self.opts)),
                None => break,
            }
            i += 1;
        }
        self.current.set(None);
        Ok(())
    }
}

fn feature_from_json(
    index: usize,
    v: &Value,
    opts: &ImportOptions,
) -> Result<AreaInput, AreaError> {
    let err = |code: Option<String>, kind| AreaError { index, code, kind };
    let Some(obj) = v.as_object() else {
        return Err(err(None, AreaErrorKind::NotAFeature("not an object".into())));
    };
    match obj.get("type").and_then(Value::as_str) {
        Some("Feature") => {}
        Some(t) => return Err(err(None, AreaErrorKind::NotAFeature(format!("type is `{t}`")))),
        None => return Err(err(None, AreaErrorKind::NotAFeature("no `type` member".into()))),
    }
    let props = obj.get("properties").and_then(Value::as_object);
    let prop = |name: &str| -> Result<String, AreaErrorKind> {
        match props.and_then(|p| p.get(name)) {
            None | Some(Value::Null) => Err(AreaErrorKind::MissingProperty(name.into())),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Some(Value::String(_)) => Err(AreaErrorKind::MissingProperty(name.into())),
            Some(_) => Err(AreaErrorKind::PropertyNotString(name.into())),
        }
    };
    let code = prop(&opts.code_property).map_err(|k| err(None, k))?;
    let name = prop(&opts.name_property).map_err(|k| err(Some(code.clone()), k))?;
    let fail = |k| err(Some(code.clone()), k);
    let geom = match obj.get("geometry") {
        None | Some(Value::Null) => return Err(fail(AreaErrorKind::MissingGeometry)),
        Some(g) => g,
    };
    let gtype = geom.get("type").and_then(Value::as_str).unwrap_or("");
    let coords = geom.get("coordinates");
    let polygons = match (gtype, coords) {
        ("Polygon", Some(c)) => vec![polygon_from_json(c, "coordinates").map_err(fail)?],
        ("MultiPolygon", Some(c)) => {
            let arr = c
                .as_array()
                .ok_or_else(|| fail(bad("coordinates", "expected an array of polygons")))?;
            arr.iter()
                .enumerate()
                .map(|(i, p)| polygon_from_json(p, &format!("coordinates[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map_err(fail)?
        }
        ("Polygon" | "MultiPolygon", None) => return Err(fail(bad("coordinates", "missing"))),
        (t, _) => return Err(fail(AreaErrorKind::UnsupportedGeometry(t.to_string()))),
    };
    Ok(AreaInput { code, name, polygons })
}

fn bad(path: &str, detail: &str) -> AreaErrorKind {
    AreaErrorKind::BadCoordinates { path: path.into(), detail: detail.into() }
}

fn polygon_from_json(v: &Value, path: &str) -> Result<Vec<Vec<[f64; 2]>>, AreaErrorKind> {
    let rings = v.as_array().ok_or_else(|| bad(path, "expected an array of rings"))?;
    let mut out = Vec::with_capacity(rings.len());
    for (r, ring) in rings.iter().enumerate() {
        let rp = format!("{path}[{r}]");
        let positions =
            ring.as_array().ok_or_else(|| bad(&rp, "expected an array of positions"))?;
        let mut pts = Vec::with_capacity(positions.len());
        for (k, pos) in positions.iter().enumerate() {
            let nums = pos.as_array().filter(|a| a.len() >= 2).ok_or_else(|| {
                bad(&format!("{rp}[{k}]"), "expected a position [longitude, latitude]")
            })?;
            let (Some(x), Some(y)) = (nums[0].as_f64(), nums[1].as_f64()) else {
                return Err(bad(&format!("{rp}[{k}]"), "position values must be numbers"));
            };
            pts.push([x, y]);
        }
        out.push(pts);
    }
    Ok(out)
}
