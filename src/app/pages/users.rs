use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::app::api::tenants::tenant_options;
use crate::app::api::users::{list_users, CreateUser, ResetUserPassword, SetUserDisabled};
use crate::app::components::data_table::{Column, DataTable, Paging};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::app::components::pager::page_number;
use crate::app::components::status::Badge;
use crate::app::pages::layout::MeResource;
use crate::domain::role::Role;
use crate::domain::time::format_millis;
use crate::domain::user::User;

const COLUMNS: [Column; 6] = [
    Column::plain("Email"),
    Column::plain("Role"),
    Column::plain("Tenant"),
    Column::plain("Status"),
    Column::plain("Created"),
    Column::plain("Actions"),
];

#[component]
pub fn UsersPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || page_number(&query.read());
    let create = ServerAction::<CreateUser>::new();
    let reset = ServerAction::<ResetUserPassword>::new();
    let disable = ServerAction::<SetUserDisabled>::new();
    let users = Resource::new(
        move || (page(), create.version().get(), disable.version().get()),
        |(p, _, _)| list_users(p),
    );
    view! {
        <Title text="Users"/>
        <h1>"Users"</h1>
        {move || outcome(reset.value().get(), |_| "Password reset; the user's sessions were ended.".to_string())}
        {move || outcome(disable.value().get(), |u| format!("{} is now {}.", u.email, if u.disabled { "disabled" } else { "enabled" }))}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(p) => {
                        let paging = Paging {
                            page: p.page,
                            page_count: p.page_count(),
                            total: p.total,
                            base_query: String::new(),
                        };
                        let rows = p.items.into_iter()
                            .map(|u| view! { <UserRow user=u reset disable/> }.into_any())
                            .collect();
                        view! { <DataTable columns=COLUMNS.to_vec() rows paging empty="No users yet."/> }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <CreateUserForm action=create/>
    }
}

#[component]
fn UserRow(
    user: User,
    reset: ServerAction<ResetUserPassword>,
    disable: ServerAction<SetUserDisabled>,
) -> impl IntoView {
    let status = if user.disabled { "disabled" } else { "active" };
    let id = user.id.clone();
    view! {
        <tr>
            <td>{user.email.clone()}</td>
            <td>{user.role.label()}</td>
            <td>{user.tenant_name.clone().unwrap_or_else(|| "—".into())}</td>
            <td><Badge text=status.to_string()/></td>
            <td>{format_millis(user.created_at)}</td>
            <td class="actions">
                <ActionForm action=reset attr:class="inline">
                    <input type="hidden" name="id" value=user.id.clone()/>
                    <input type="password" name="password" placeholder="new password" minlength="12" autocomplete="new-password"/>
                    <button type="submit" class="small">"Reset password"</button>
                </ActionForm>
                <ActionForm action=disable attr:class="inline">
                    <input type="hidden" name="id" value=id/>
                    <input type="hidden" name="disabled" value=(!user.disabled).to_string()/>
                    <button type="submit" class="small warn">{if user.disabled { "Enable" } else { "Disable" }}</button>
                </ActionForm>
            </td>
        </tr>
    }
}

#[component]
fn CreateUserForm(action: ServerAction<CreateUser>) -> impl IntoView {
    let tenants = Resource::new(|| (), |_| tenant_options());
    let me = expect_context::<MeResource>();
    view! {
        <section class="card">
            <h2>"New user"</h2>
            {move || outcome(action.value().get(), |u| format!("Created {}.", u.email))}
            <ActionForm action=action attr:class="grid-form">
                <label>"Email" <input type="email" name="email" required/></label>
                <label>"Password" <input type="password" name="password" minlength="12" required autocomplete="new-password"/></label>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let admin = me.await.ok().flatten().is_some_and(|m| m.is_platform_admin());
                        let roles: Vec<Role> = Role::FOR_USERS.into_iter().filter(|r| admin || r.needs_tenant()).collect();
                        let options = tenants.await.unwrap_or_default();
                        view! {
                            <label>"Role"
                                <select name="role">
                                    {roles.into_iter().map(|r| view! { <option value=r.as_str()>{r.label()}</option> }).collect_view()}
                                </select>
                            </label>
                            <label>"Tenant"
                                <select name="tenant_id">
                                    {admin.then(|| view! { <option value="">"— none (platform admin) —"</option> })}
                                    {options.into_iter().map(|(id, name)| view! { <option value=id>{name}</option> }).collect_view()}
                                </select>
                            </label>
                        }
                    })}
                </Suspense>
                <button type="submit" class="primary">"Create user"</button>
            </ActionForm>
        </section>
    }
}
