"""The conversation engine: inbound pipeline, bot, outbound delivery and the bus between them."""
