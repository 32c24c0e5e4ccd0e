"""One module per behaviour of the SPEC, each reading top-down like the section it implements:
create and send (`create_alert`, `sending`), read and close (`read_alerts`), receive a webhook
(`receive_webhook`, `apply_updates`, `record_taps`, `keep_replies`, `record_statuses`),
escalate (`escalate`, `timer`, `sweep`), confirm (`confirm`), tell people (`notify`,
`acknowledge_replies`, `template_fallbacks`, `follow_up`), pace and queue (`queueing`,
`dispatch`, `queued_kinds`), publish (`publish_events`).

Rule: flows join `store`, `woosh`, `domain` and `platform`; handlers call flows. Within this
package imports go one way (no circle): a flow never imports one that builds on it.
"""
