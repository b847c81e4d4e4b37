//! The operator's commands besides `serve`: `backup`, `users`, `config check`, `keys rotate`
//! and `openapi` (SPEC §17). Each loads the same settings as the server, talks to the same
//! store through the same use-cases, and says in one line what it did or what is wrong.

pub mod backup;
pub mod check;
pub mod keys;
pub mod users;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Set a user's password and end every session of the user.
    ///
    /// The password is read from standard input (asked twice on a terminal), or generated and
    /// printed with --generate.
    ResetPassword {
        /// The user's username, email or phone number.
        account: String,
        /// Generate a strong password and print it.
        #[arg(long)]
        generate: bool,
    },
    /// Give a user the root role, for example when the root account's password is lost.
    GrantRoot {
        /// The user's username, email or phone number.
        account: String,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Load the settings, reach every dependency, and print one line per check; exits with 1
    /// when any check fails.
    Check,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a new token signing key. The old public key stays in /.well-known/jwks.json and
    /// keeps verifying the tokens it signed until they expire; restart the server to use the
    /// new key.
    Rotate,
}
