//! The `tandem:service/ticket` export. A composed caller (the assist component) is inside the
//! trust boundary the composition draws, so these functions ask for no token and `get` returns
//! the agent view; the HTTP routes are where tokens are checked.

use crate::bindings::exports::tandem::service::ticket as wit;
use crate::bindings::tandem::service::types as wit_types;
use crate::store;
use tandem_core::foundation::vocab::Priority;
use tandem_core::foundation::vocab::Role;
use tandem_core::ticket::{self, CreateInput, Customer, Status, TurnInput};

tandem_adapter::wit_error_mapping!(wit_types);

fn priority_from_wit(p: wit_types::Priority) -> Priority {
    match p {
        wit_types::Priority::Low => Priority::Low,
        wit_types::Priority::Normal => Priority::Normal,
        wit_types::Priority::High => Priority::High,
        wit_types::Priority::Urgent => Priority::Urgent,
    }
}

fn priority_to_wit(p: Priority) -> wit_types::Priority {
    match p {
        Priority::Low => wit_types::Priority::Low,
        Priority::Normal => wit_types::Priority::Normal,
        Priority::High => wit_types::Priority::High,
        Priority::Urgent => wit_types::Priority::Urgent,
    }
}

fn role_from_wit(r: wit_types::Role) -> Role {
    match r {
        wit_types::Role::Customer => Role::Customer,
        wit_types::Role::Bot => Role::Bot,
        wit_types::Role::Agent => Role::Agent,
    }
}

fn role_to_wit(r: Role) -> wit_types::Role {
    match r {
        Role::Customer => wit_types::Role::Customer,
        Role::Bot => wit_types::Role::Bot,
        Role::Agent => wit_types::Role::Agent,
    }
}

fn status_to_wit(s: Status) -> wit::Status {
    match s {
        Status::New => wit::Status::New,
        Status::Open => wit::Status::Open,
        Status::Pending => wit::Status::Pending,
        Status::Resolved => wit::Status::Resolved,
        Status::Closed => wit::Status::Closed,
    }
}

fn customer_to_wit(c: Customer) -> wit::Customer {
    wit::Customer {
        id: c.id,
        name: c.name,
        channel: c.channel,
        contact: c.contact,
        tier: c.tier,
    }
}

fn ticket_to_wit(t: ticket::Ticket) -> wit::Ticket {
    wit::Ticket {
        id: t.id,
        status: status_to_wit(t.status),
        priority: priority_to_wit(t.priority),
        category: t.category,
        queue: t.queue,
        assignee: t.assignee,
        customer: customer_to_wit(t.customer),
        subject: t.subject,
        summary: t.summary,
        transcript: t
            .transcript
            .into_iter()
            .map(|x| wit_types::Turn {
                role: role_to_wit(x.role),
                text: x.text,
                intent: x.intent,
                confidence: x.confidence,
                answered: x.answered,
                negative: None,
            })
            .collect(),
        entities: t
            .entities
            .into_iter()
            .map(|e| wit::Entity {
                kind: e.kind,
                value: e.value,
            })
            .collect(),
        sla_due: t.sla_due,
        created_at: t.created_at,
        updated_at: t.updated_at,
        version: t.version,
    }
}

impl wit::Guest for crate::Component {
    async fn create(request: wit::CreateRequest) -> Result<wit::Created, wit_types::Error> {
        let c = request.customer;
        let input = CreateInput {
            customer: Customer {
                id: c.id,
                name: c.name,
                channel: c.channel,
                contact: c.contact,
                tier: c.tier,
            },
            transcript: request
                .transcript
                .into_iter()
                .map(|t| TurnInput {
                    role: role_from_wit(t.role),
                    text: t.text,
                    intent: t.intent,
                    confidence: t.confidence,
                    answered: t.answered,
                })
                .collect(),
            subject: request.subject,
            category: request.category,
            priority: request.priority.map(priority_from_wit),
        };
        let (created, token) = crate::create(
            &input,
            request.idempotency_key.as_deref(),
            crate::Caller::Anonymous,
        )
        .await
        .map_err(to_wit_error)?;
        Ok(wit::Created {
            ticket: ticket_to_wit(created.ticket),
            access_token: token,
            replayed: created.replayed,
        })
    }

    async fn get(id: String) -> Result<wit::Ticket, wit_types::Error> {
        let store = store::open().await.map_err(to_wit_error)?;
        match store.get(&id).await.map_err(to_wit_error)? {
            Some(t) => Ok(ticket_to_wit(t)),
            None => Err(wit_types::Error::NotFound(format!("no ticket {id}"))),
        }
    }

    async fn agents_online() -> Result<Option<u32>, wit_types::Error> {
        let store = store::open().await.map_err(to_wit_error)?;
        store.agents_online().await.map_err(to_wit_error)
    }
}
