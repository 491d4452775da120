//! Transactional outbox, relay and listener deliveries. (Being written.)
