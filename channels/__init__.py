"""Channel adapters: each turns its vendor's webhook into InboundEvents and sends OutboundMessages."""
