//! `smsauth users reset-password` and `smsauth users grant-root`: recovery for an operator with
//! a shell on the server, through the same use-cases (and rules) as the API.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use anyhow::Context;
use smsauth_core::domain::user::User;
use smsauth_core::ports::clock::SystemClock;
use smsauth_core::ports::telemetry::NoTelemetry;
use smsauth_core::service::{Core, ServiceError};

use super::UsersCommand;
use crate::configuration::Settings;

pub async fn run(settings: &Settings, command: UsersCommand) -> anyhow::Result<()> {
    let assembled =
        crate::startup::assemble(settings, Arc::new(SystemClock), Arc::new(NoTelemetry)).await?;
    let core = &assembled.core;
    let result = match command {
        UsersCommand::ResetPassword { account, generate } => {
            reset_password(core, &account, generate).await
        }
        UsersCommand::GrantRoot { account } => grant_root(core, &account).await,
    };
    assembled.store.close().await;
    result
}

async fn find(core: &Core, account: &str) -> anyhow::Result<User> {
    match core.operator_find_user(account).await {
        Ok(user) => Ok(user),
        Err(ServiceError::NotFound) => {
            anyhow::bail!("no user has the username, email or phone number {account:?}")
        }
        Err(e) => Err(e.into()),
    }
}

fn describe(user: &User) -> String {
    let name = user
        .username
        .as_deref()
        .or(user.email.as_deref())
        .or(user.nickname.as_deref())
        .unwrap_or("-");
    format!("user {} ({name})", user.id)
}

async fn reset_password(core: &Core, account: &str, generate: bool) -> anyhow::Result<()> {
    let user = find(core, account).await?;
    let password = if generate {
        crate::bootstrap::generate_password()?
    } else {
        read_password()?
    };
    match core.operator_set_password(&user, &password).await {
        Ok(_) => {}
        Err(ServiceError::Invalid { .. }) => {
            anyhow::bail!("the password must be 8 to 64 characters long")
        }
        Err(e) => return Err(e.into()),
    }
    if generate {
        println!("{password}");
    }
    eprintln!(
        "password of {} changed; every session of the user has ended",
        describe(&user)
    );
    Ok(())
}

async fn grant_root(core: &Core, account: &str) -> anyhow::Result<()> {
    let user = find(core, account).await?;
    if user.is_root() {
        println!("{} already has the root role", describe(&user));
        return Ok(());
    }
    core.operator_grant_root(&user).await?;
    println!("{} now has the root role", describe(&user));
    Ok(())
}

/// From a terminal: asked twice with echo off. Otherwise the first line of standard input.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']).to_string();
        anyhow::ensure!(!password.is_empty(), "no password on standard input");
        return Ok(password);
    }
    let first = prompt_hidden("New password: ")?;
    let second = prompt_hidden("Repeat it: ")?;
    anyhow::ensure!(first == second, "the two passwords differ; nothing changed");
    Ok(first)
}

fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let saved = tcgetattr(&stdin).context("cannot read the terminal's settings")?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&stdin, OptionalActions::Now, &quiet).context("cannot turn off echo")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    // Echo comes back whatever the read did.
    let _ = tcsetattr(&stdin, OptionalActions::Now, &saved);
    eprintln!();
    read.context("cannot read the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
