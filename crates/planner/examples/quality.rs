//! Prints how well the offline planner does on a labelled set of descriptions:
//! `cargo run -p kiln-planner --example quality -- ../shared/dev-descriptions.json [--verbose]`

use kiln_planner::quality::{Counts, Expected, score};
use serde_json::Value;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "../shared/dev-descriptions.json".into());
    let verbose = args.any(|a| a == "--verbose");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let set: Value = serde_json::from_str(&text).expect("JSON");
    let (mut ent, mut fld, mut feat) = (Counts::default(), Counts::default(), Counts::default());
    let cases = set["cases"].as_array().expect("cases");
    for case in cases {
        let description = case["description"].as_str().expect("description");
        let expected = Expected {
            entities: case["entities"]
                .as_object()
                .expect("entities")
                .iter()
                .map(|(k, v)| {
                    let fields = v
                        .as_array()
                        .expect("fields")
                        .iter()
                        .filter_map(|f| f.as_str())
                        .map(str::to_owned)
                        .collect();
                    (k.clone(), fields)
                })
                .collect(),
            features: case["features"]
                .as_array()
                .expect("features")
                .iter()
                .filter_map(|f| f.as_str())
                .map(str::to_owned)
                .collect(),
        };
        let spec = kiln_planner::plan(description);
        let s = score(&spec, &expected);
        ent.add(s.entities);
        fld.add(s.fields);
        feat.add(s.features);
        if verbose {
            println!(
                "{}: entities {:?} fields {:?} features {:?}",
                case["id"], s.entities, s.fields, s.features
            );
            for e in &spec.entities {
                let fields: Vec<String> = e
                    .fields
                    .iter()
                    .map(|f| {
                        format!(
                            "{}:{}",
                            f.name,
                            serde_json::to_value(&f.ty).expect("ty")["type"]
                                .as_str()
                                .unwrap_or("?")
                        )
                    })
                    .collect();
                println!("    {} ({:?}) [{}]", e.name, e.access, fields.join(", "));
            }
        }
    }
    println!("{} descriptions", cases.len());
    println!("| | recall | precision |");
    println!("| --- | --- | --- |");
    for (name, c) in [("entities", ent), ("fields", fld), ("features", feat)] {
        println!(
            "| {name} | {:.2} ({}/{}) | {:.2} ({}/{}) |",
            c.recall(),
            c.tp,
            c.tp + c.fn_,
            c.precision(),
            c.tp,
            c.tp + c.fp
        );
    }
}
