//! Binding and unbinding a phone in the user centre (SPEC §6.4). Sign-in never reads these
//! bindings; they prove control of a phone for the account's own purposes.

use super::{Core, ServiceError};
use crate::domain::otp::OtpAction;
use crate::domain::user::User;
use crate::ports::store::{Conflict, StoreError};

impl Core {
    /// The phones `user` has bound, per verifier.
    pub async fn bound_verifiers(
        &self,
        user: &User,
    ) -> Result<Vec<crate::ports::store::BoundVerifier>, ServiceError> {
        Ok(self.users.bound_verifiers(user.id).await?)
    }

    /// Binds `uuid` to `user` through `verifier`, once a code sent to it (action
    /// `verifiers:bind`) is presented. A second bind of the same verifier is refused before the
    /// code is consumed.
    pub async fn bind_phone(
        &self,
        user: &User,
        verifier: Option<&str>,
        uuid: Option<&str>,
        code: Option<&str>,
        client_ip: &str,
    ) -> Result<(), ServiceError> {
        let verifier = self.sms_verifier_named(verifier).await?;
        let bound = self.users.bound_verifiers(user.id).await?;
        if bound.iter().any(|b| b.verifier == verifier.name) {
            return Err(ServiceError::Conflict(Conflict::AlreadyBound));
        }
        let phone = self.phone_from(uuid).await?;
        self.verify_code(OtpAction::BindVerifier, &verifier, &phone, code, client_ip)
            .await?;
        let now = self.clock.now();
        Ok(self
            .users
            .bind_verifier(&verifier.name, user.id, phone.as_str(), now)
            .await?)
    }

    /// Removes the binding `target` (default: `verifier`) once a code sent (action
    /// `verifiers:unbind`) to the phone already bound through `verifier` is presented, so that
    /// a stolen session alone cannot remove the owner's phone.
    pub async fn unbind_phone(
        &self,
        user: &User,
        verifier: Option<&str>,
        target: Option<&str>,
        code: Option<&str>,
        client_ip: &str,
    ) -> Result<(), ServiceError> {
        let verifier = self.sms_verifier_named(verifier).await?;
        let target = target.unwrap_or(&verifier.name).to_string();
        let bound = self.users.bound_verifiers(user.id).await?;
        let proof = bound
            .iter()
            .find(|b| b.verifier == verifier.name)
            .ok_or(ServiceError::NotBound)?;
        if !bound.iter().any(|b| b.verifier == target) {
            return Err(ServiceError::NotBound);
        }
        let phone = self.phone_from(Some(&proof.uuid)).await?;
        self.verify_code(
            OtpAction::UnbindVerifier,
            &verifier,
            &phone,
            code,
            client_ip,
        )
        .await?;
        match self.users.unbind_verifier(&target, user.id).await {
            Err(StoreError::NotFound) => Err(ServiceError::NotBound),
            other => Ok(other?),
        }
    }
}
