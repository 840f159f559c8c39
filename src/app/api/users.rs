use leptos::prelude::*;

use crate::domain::page::Page;
use crate::domain::user::User;

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, invalid};

#[server(endpoint = "list_users")]
pub async fn list_users(page: u32) -> Result<Page<User>, ServerFnError> {
    use crate::domain::page::PageRequest;
    use crate::server::services::users;
    let (svc, actor) = actor().await?;
    users::list(&svc, &actor, PageRequest::new(Some(page), None))
        .await
        .map_err(fail)
}

#[server(endpoint = "create_user")]
pub async fn create_user(
    email: String,
    password: String,
    role: String,
    tenant_id: String,
) -> Result<User, ServerFnError> {
    use crate::server::services::users::{self, NewUser};
    let (svc, actor) = actor().await?;
    let new = NewUser {
        email: &email,
        password: &password,
        role: role.parse().map_err(invalid)?,
        tenant_id: Some(tenant_id.as_str()),
    };
    users::create(&svc, &actor, new).await.map_err(fail)
}

#[server(endpoint = "reset_user_password")]
pub async fn reset_user_password(id: String, password: String) -> Result<(), ServerFnError> {
    use crate::server::services::users;
    let (svc, actor) = actor().await?;
    users::reset_password(&svc, &actor, &id, &password)
        .await
        .map_err(fail)
}

#[server(endpoint = "set_user_disabled")]
pub async fn set_user_disabled(id: String, disabled: String) -> Result<User, ServerFnError> {
    use crate::server::services::users;
    let (svc, actor) = actor().await?;
    users::set_disabled(&svc, &actor, &id, disabled == "true")
        .await
        .map_err(fail)
}
