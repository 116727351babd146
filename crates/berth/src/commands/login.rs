//! `berth login` and `berth logout`: the credentials checked by the daemon
//! (`POST /auth`, which asks the registry's `/v2/`), then saved where and
//! as the docker CLI saves them (see [`crate::credentials`]).

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result};
use clap::Args;
use hyper::Method;
use models::system::{AuthConfig, AuthResponse};

use super::{errln, out, outln, Status};
use crate::client::Client;
use crate::credentials::{self, Login};

/// `berth login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// The registry (default: Docker Hub)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// `berth logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (default: Docker Hub)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// One line of stdin, without its newline.
fn read_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// A password typed at the terminal, not echoed.
fn read_secret() -> Result<String> {
    let fd = libc::STDIN_FILENO;
    // SAFETY: a zeroed termios is a valid out-parameter for tcgetattr.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd 0 and a termios we own.
    let is_tty = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
    if is_tty {
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: fd 0 and a termios we own.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let line = read_line();
    if is_tty {
        // SAFETY: restores what tcgetattr gave.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
        out("\n")?;
    }
    line
}

/// `berth login`.
pub async fn login(client: &Client, a: &LoginArgs) -> Result<u8> {
    let server = credentials::server_key(a.server.as_deref().unwrap_or(""));
    if a.password.is_some() && a.password_stdin {
        return Err(Status::exit(
            1,
            "--password and --password-stdin are mutually exclusive",
        ));
    }
    if a.password_stdin && a.username.is_none() {
        return Err(Status::exit(
            1,
            "Must provide --username with --password-stdin",
        ));
    }
    if a.password.is_some() {
        errln("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let saved = credentials::get(&server).ok().flatten();
    let username = match &a.username {
        Some(u) => u.clone(),
        None => {
            let hint = saved
                .as_ref()
                .map(|l| format!(" ({})", l.username))
                .unwrap_or_default();
            out(&format!("Username{hint}: "))?;
            let u = read_line()?;
            match (u.is_empty(), &saved) {
                (true, Some(l)) => l.username.clone(),
                _ => u,
            }
        }
    };
    let password = match (&a.password, a.password_stdin) {
        (Some(p), _) => p.clone(),
        (None, true) => {
            let mut all = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut all)?;
            all.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => {
            if !std::io::stdin().is_terminal() && a.username.is_some() {
                read_line()?
            } else {
                out("Password: ")?;
                read_secret()?
            }
        }
    };
    if username.is_empty() {
        return Err(Status::exit(1, "Error: Non-null Username Required"));
    }
    if password.is_empty() {
        return Err(Status::exit(1, "Error: Password Required"));
    }
    let body = AuthConfig {
        username: username.clone(),
        password: password.clone(),
        server_address: server.clone(),
        ..Default::default()
    };
    let (_, answer) = client.request_json(Method::POST, "/auth", &body).await?;
    let answer: AuthResponse = models::de::from_slice(&answer).unwrap_or_default();
    let login = match Some(answer.identity_token.as_str()).filter(|t| !t.is_empty()) {
        // A registry that issued a token: it is kept instead of the
        // password, under Docker's `<token>` user.
        Some(token) => Login {
            username: "<token>".into(),
            password: token.into(),
        },
        None => Login { username, password },
    };
    credentials::store(&server, &login).context("saving credentials")?;
    outln(match answer.status.as_str() {
        "" => "Login Succeeded",
        s => s,
    })?;
    Ok(0)
}

/// `berth logout`.
pub async fn logout(_client: &Client, a: &LogoutArgs) -> Result<u8> {
    let server = credentials::server_key(a.server.as_deref().unwrap_or(""));
    if credentials::get(&server)?.is_none() {
        outln(format!("Not logged in to {server}"))?;
        return Ok(0);
    }
    outln(format!("Removing login credentials for {server}"))?;
    if !credentials::erase(&server)? {
        errln(&format!("WARNING: could not erase credentials: {server}"));
    }
    Ok(0)
}
