//! The planner against the public development set (`shared/dev-descriptions.json`, beside the
//! repository): the quality goals hold, and every plan is a valid AppSpec.

use kiln_planner::quality::{Counts, Expected, score};
use serde_json::Value;

/// The set in `shared/` beside the repository when it is there (it may be newer), else the
/// copy committed next to this test.
fn dev_set() -> Vec<(String, Expected)> {
    load(&kiln_planner::quality::dev_set_path().to_string_lossy())
}

fn load(path: &str) -> Vec<(String, Expected)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("{path}: {e} (the development set lives in shared/ beside the repository)")
    });
    let set: Value = serde_json::from_str(&text).expect("JSON");
    set["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let strings = |v: &Value| -> Vec<String> {
                v.as_array()
                    .expect("array")
                    .iter()
                    .filter_map(|x| x.as_str())
                    .map(str::to_owned)
                    .collect()
            };
            let entities = c["entities"]
                .as_object()
                .expect("entities")
                .iter()
                .map(|(k, v)| (k.clone(), strings(v)))
                .collect();
            (
                c["description"].as_str().expect("description").to_owned(),
                Expected { entities, features: strings(&c["features"]) },
            )
        })
        .collect()
}

#[test]
fn quality_goals_hold_on_the_development_set() {
    check(dev_set());
}

#[test]
fn quality_goals_hold_on_the_descriptions_written_while_developing() {
    check(load(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/written-descriptions.json")));
}

fn check(set: Vec<(String, Expected)>) {
    let (mut ent, mut fld, mut feat) = (Counts::default(), Counts::default(), Counts::default());
    for (description, expected) in set {
        let spec = kiln_planner::plan(&description);
        spec.validate().unwrap_or_else(|e| panic!("{description}: {e:?}"));
        let s = score(&spec, &expected);
        ent.add(s.entities);
        fld.add(s.fields);
        feat.add(s.features);
    }
    assert!(ent.recall() >= 0.90, "entity recall {:.2}", ent.recall());
    assert!(ent.precision() >= 0.80, "entity precision {:.2}", ent.precision());
    assert!(fld.recall() >= 0.75, "field recall {:.2}", fld.recall());
    assert!(fld.precision() >= 0.60, "field precision {:.2}", fld.precision());
    assert!(feat.recall() >= 0.90, "feature recall {:.2}", feat.recall());
}
