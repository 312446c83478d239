"""Writes of the orders service, one module per story: cart, checkout, saga, cancellation,
fulfilment, refunds; the state machine and shared helpers in transitions."""
