//! Swarm mode's endpoints on a node that is in no swarm, as dockerd answers
//! them (moby `daemon/cluster`): berth has no swarm mode, so every node is
//! such a node. Clients (docker-py's test set-up, `docker info`) ask these
//! and expect dockerd's 503 and its words, not a 404.

use hyper::{Method, StatusCode};

use super::ApiError;

/// dockerd's `errNoManager` for a node with no swarm (moby
/// `daemon/cluster/errors.go`): every manager action.
pub const NOT_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

/// dockerd's `errNoSwarm`: leaving a swarm the node is not in.
pub const NOT_IN_SWARM: &str = "This node is not part of a swarm";

/// The resources only a swarm manager serves.
const MANAGER_ONLY: [&str; 5] = ["/nodes", "/services", "/tasks", "/secrets", "/configs"];

/// The error for a swarm path, or `None` when `path` is no swarm path.
pub fn answer(method: &Method, path: &str) -> Option<ApiError> {
    let unavailable = |message: &str| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: message.to_string(),
    };
    let under = |root: &str| path == root || path.starts_with(&format!("{root}/"));
    match path {
        "/swarm/leave" if method == Method::POST => Some(unavailable(NOT_IN_SWARM)),
        "/swarm/init" | "/swarm/join" if method == Method::POST => Some(unavailable(
            "berth has no swarm mode: this node cannot init or join a swarm",
        )),
        _ if under("/swarm") => Some(unavailable(NOT_MANAGER)),
        _ if MANAGER_ONLY.iter().any(|r| under(r)) => Some(unavailable(NOT_MANAGER)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarm_paths_answer_as_dockerd_outside_a_swarm() {
        for (m, p, want) in [
            (Method::GET, "/swarm", Some(NOT_MANAGER)),
            (Method::POST, "/swarm/leave", Some(NOT_IN_SWARM)),
            (Method::POST, "/swarm/update", Some(NOT_MANAGER)),
            (Method::GET, "/swarm/unlockkey", Some(NOT_MANAGER)),
            (Method::POST, "/swarm/unlock", Some(NOT_MANAGER)),
            (Method::GET, "/nodes", Some(NOT_MANAGER)),
            (Method::GET, "/services/abc", Some(NOT_MANAGER)),
            (Method::POST, "/services/create", Some(NOT_MANAGER)),
            (Method::GET, "/tasks", Some(NOT_MANAGER)),
            (Method::DELETE, "/secrets/x", Some(NOT_MANAGER)),
            (Method::GET, "/configs", Some(NOT_MANAGER)),
            (Method::GET, "/swarmy", None),
            (Method::GET, "/networks", None),
        ] {
            let got = answer(&m, p);
            assert_eq!(got.as_ref().map(|e| e.message.as_str()), want, "{m} {p}");
            if let Some(e) = got {
                assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
            }
        }
        assert!(answer(&Method::POST, "/swarm/init")
            .unwrap()
            .message
            .contains("no swarm mode"));
    }
}
