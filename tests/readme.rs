//! The README's compatibility matrix is generated from `policies/spaces.toml`; this test fails
//! when they drift. `BUCKETGATE_UPDATE_README=1 cargo test --test readme` rewrites the table.

use bucketgate::profile::{Profile, Verdict};

const BEGIN: &str = "<!-- compatibility matrix: generated from policies/spaces.toml -->\n";
const END: &str = "<!-- end of compatibility matrix -->";

fn matrix() -> String {
    let mut out = String::from("| Operation | bucketgate |\n|---|---|\n");
    for (op, verdict) in Profile::spaces().table() {
        let what = match verdict {
            Verdict::Proxy => "yes (forwarded, re-signed)",
            Verdict::Gateway => "yes (served by the gateway)",
            Verdict::NotYet => "not yet (501; Spaces has it)",
            Verdict::NotImplemented => "501 NotImplemented (as Spaces)",
        };
        out.push_str(&format!("| {} | {what} |\n", op.name()));
    }
    out
}

#[test]
fn readme_matrix_matches_the_profile() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme
        .find(BEGIN)
        .expect("README has the matrix start marker")
        + BEGIN.len();
    let end = readme[start..]
        .find(END)
        .expect("README has the matrix end marker")
        + start;
    let want = matrix();
    if readme[start..end] != want {
        if std::env::var_os("BUCKETGATE_UPDATE_README").is_some() {
            std::fs::write(
                path,
                format!("{}{want}{}", &readme[..start], &readme[end..]),
            )
            .unwrap();
        } else {
            panic!("README's compatibility matrix is stale; rerun with BUCKETGATE_UPDATE_README=1");
        }
    }
}
