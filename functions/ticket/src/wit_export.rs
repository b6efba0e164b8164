//! The `tandem:service/ticket` export. A composed caller (the assist component) is inside the
//! trust boundary the composition draws, so these functions ask for no token and `get` returns
//! the agent view; the HTTP routes are where tokens are checked.

use crate::bindings::exports::tandem::service::ticket as wit;
use crate::store;
use tandem_contract::types as wit_types;
use tandem_core::foundation::vocab::Turn;
use tandem_core::ticket::{self, CreateInput, Customer, Status};

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
        priority: t.priority.into(),
        category: t.category,
        queue: t.queue,
        assignee: t.assignee,
        customer: customer_to_wit(t.customer),
        subject: t.subject,
        summary: t.summary,
        transcript: t.transcript.into_iter().map(Into::into).collect(),
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
            // A turn's sentiment is a handoff signal, not part of what an agent reads.
            transcript: request
                .transcript
                .into_iter()
                .map(|t| Turn {
                    negative: None,
                    ..t.into()
                })
                .collect(),
            subject: request.subject,
            category: request.category,
            priority: request.priority.map(Into::into),
        };
        let (created, token) = crate::create(
            &input,
            request.idempotency_key.as_deref(),
            crate::Caller::Anonymous,
        )
        .await
        .map_err(wit_types::Error::from)?;
        Ok(wit::Created {
            ticket: ticket_to_wit(created.ticket),
            access_token: token,
            replayed: created.replayed,
        })
    }

    async fn get(id: String) -> Result<wit::Ticket, wit_types::Error> {
        let store = store::open().await.map_err(wit_types::Error::from)?;
        match store.get(&id).await.map_err(wit_types::Error::from)? {
            Some(t) => Ok(ticket_to_wit(t)),
            None => Err(wit_types::Error::NotFound(format!("no ticket {id}"))),
        }
    }

    async fn agents_online() -> Result<Option<u32>, wit_types::Error> {
        let store = store::open().await.map_err(wit_types::Error::from)?;
        store.agents_online().await.map_err(wit_types::Error::from)
    }
}
