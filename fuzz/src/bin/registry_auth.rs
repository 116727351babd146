//! AFL++ target `registry_auth`: see `berth_fuzz::registry_auth` and docs/FUZZING.md.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::registry_auth(data);
    });
}
