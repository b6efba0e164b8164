//! The `tandem:service/feedback` export and its conversions. A composed caller is inside the
//! trust boundary the composition draws, so these functions ask for no token; the HTTP routes
//! do.

use crate::bindings::exports::tandem::service::feedback as wit;
use crate::{Component, export, record, stats};
use tandem_contract::types as wit_types;
use tandem_core::feedback::{self, EventInput};

fn wit_counts(c: &tandem_core::feedback::metrics::Counts) -> wit::Counts {
    wit::Counts {
        conversations: c.conversations,
        with_outcome: c.with_outcome,
        resolved: c.resolved,
        resolved_first_contact: c.resolved_first_contact,
        self_served: c.self_served,
        handed_off: c.handed_off,
        rated: c.rated,
        satisfied: c.satisfied,
        rating_sum: c.rating_sum,
    }
}

fn wit_metrics(m: &tandem_core::feedback::metrics::Metrics) -> wit::Metrics {
    wit::Metrics {
        csat: m.csat,
        average_rating: m.average_rating,
        fcr: m.fcr,
        resolution_rate: m.resolution_rate,
        self_service_rate: m.self_service_rate,
        handoff_rate: m.handoff_rate,
    }
}

impl wit::Guest for Component {
    async fn record_event(event: wit::Event) -> Result<bool, wit_types::Error> {
        let kind = match event.kind {
            wit::Kind::Rating => feedback::Kind::Rating,
            wit::Kind::Outcome => feedback::Kind::Outcome,
            wit::Kind::Correction => feedback::Kind::Correction,
            wit::Kind::Comment => feedback::Kind::Comment,
        };
        let handled_by = event.handled_by.map(|h| match h {
            wit::HandledBy::Bot => feedback::HandledBy::Bot,
            wit::HandledBy::Human => feedback::HandledBy::Human,
            wit::HandledBy::Both => feedback::HandledBy::Both,
        });
        let input = EventInput {
            event_id: event.event_id,
            conversation_id: event.conversation_id,
            turn_id: event.turn_id,
            kind,
            rating: event.rating.map(serde_json::Value::from),
            resolved: event.resolved,
            handled_by,
            agent_id: event.agent_id,
            contact_count: event.contact_count.map(serde_json::Value::from),
            intent_predicted: event.intent_predicted,
            intent_corrected: event.intent_corrected,
            faq_predicted: event.faq_predicted,
            faq_corrected: event.faq_corrected,
            text: event.text,
            comment: event.comment,
            channel: event.channel,
            created_at: event.created_at,
        };
        record(&input)
            .await
            .map(|(_, created)| created)
            .map_err(wit_types::Error::from)
    }

    async fn stats(request: wit::StatsRequest) -> Result<wit::StatsReport, wit_types::Error> {
        let group_by = request.group_by.map(|g| match g {
            wit::GroupBy::Intent => "intent",
            wit::GroupBy::Day => "day",
            wit::GroupBy::Channel => "channel",
            wit::GroupBy::Agent => "agent",
        });
        let (s, ..) = stats(request.start.as_deref(), request.end.as_deref(), group_by)
            .await
            .map_err(wit_types::Error::from)?;
        Ok(wit::StatsReport {
            counts: wit_counts(&s.counts),
            metrics: wit_metrics(&s.metrics),
            events: s.events.total,
            top_corrections: s
                .top_corrections
                .iter()
                .map(|c| wit::CorrectionCount {
                    predicted: c.from.clone(),
                    corrected: c.to.clone(),
                    count: c.count,
                })
                .collect(),
            groups: s
                .groups
                .unwrap_or_default()
                .iter()
                .map(|g| wit::Group {
                    key: g.key.clone(),
                    counts: wit_counts(&g.counts),
                    metrics: wit_metrics(&g.metrics),
                })
                .collect(),
        })
    }

    async fn export_corrections(since: Option<String>) -> Result<Vec<String>, wit_types::Error> {
        let lines = export(since.as_deref())
            .await
            .map_err(wit_types::Error::from)?;
        Ok(lines.iter().map(|l| l.to_string()).collect())
    }
}
