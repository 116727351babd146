//! AFL++ target `api`: see `berth_fuzz::api` and docs/FUZZING.md.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::api(data);
    });
}
