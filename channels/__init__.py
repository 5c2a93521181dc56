"""Channel adapters: vendor webhooks in as InboundEvents, OutboundMessages out."""
