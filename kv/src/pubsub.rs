//! Channel and pattern subscriptions. Messages go to each subscriber's sink (an
//! `async_channel::Sender<Reply>` the connection drains), with `try_send`: publishing never
//! blocks. A full sink is closed (the subscriber is too slow), a closed one is forgotten.

use std::collections::HashMap;
use std::sync::Mutex;

use async_channel::{Sender, TrySendError};

use crate::glob::glob_match;
use crate::resp::Reply;

type Subscribers = HashMap<u64, Sender<Reply>>;

#[derive(Debug, Default)]
struct Registry {
    channels: HashMap<Vec<u8>, Subscribers>,
    patterns: HashMap<Vec<u8>, Subscribers>,
}

/// The store's subscription registry.
#[derive(Debug, Default)]
pub(crate) struct PubSub {
    inner: Mutex<Registry>,
}

/// Sends `message` to every subscriber; returns how many accepted it and drops the dead ones.
fn deliver(subscribers: &mut Subscribers, message: &Reply) -> usize {
    let mut delivered = 0;
    subscribers.retain(|_, sink| match sink.try_send(message.clone()) {
        Ok(()) => {
            delivered += 1;
            true
        }
        Err(TrySendError::Full(_)) => {
            sink.close();
            false
        }
        Err(TrySendError::Closed(_)) => false,
    });
    delivered
}

impl PubSub {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `sink` of client `id` on a channel (`pattern == false`) or pattern.
    pub fn subscribe(&self, pattern: bool, name: &[u8], id: u64, sink: &Sender<Reply>) {
        let mut registry = self.registry();
        let map = if pattern {
            &mut registry.patterns
        } else {
            &mut registry.channels
        };
        map.entry(name.to_vec())
            .or_default()
            .insert(id, sink.clone());
    }

    /// Removes client `id` from a channel or pattern.
    pub fn unsubscribe(&self, pattern: bool, name: &[u8], id: u64) {
        let mut registry = self.registry();
        let map = if pattern {
            &mut registry.patterns
        } else {
            &mut registry.channels
        };
        if let Some(subscribers) = map.get_mut(name) {
            subscribers.remove(&id);
            if subscribers.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Delivers a message; returns the number of receivers (channel plus pattern matches).
    pub fn publish(&self, channel: &[u8], payload: &[u8]) -> usize {
        let mut registry = self.registry();
        let mut count = 0;
        if let Some(subscribers) = registry.channels.get_mut(channel) {
            let message = Reply::bulks([&b"message"[..], channel, payload]);
            count += deliver(subscribers, &message);
            if subscribers.is_empty() {
                registry.channels.remove(channel);
            }
        }
        registry.patterns.retain(|pattern, subscribers| {
            if glob_match(pattern, channel) {
                let message = Reply::bulks([&b"pmessage"[..], pattern, channel, payload]);
                count += deliver(subscribers, &message);
            }
            !subscribers.is_empty()
        });
        count
    }

    /// Active channels matching `pattern` (all when `None`).
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        self.registry()
            .channels
            .keys()
            .filter(|c| pattern.is_none_or_match(c))
            .cloned()
            .collect()
    }

    /// Subscribers of `channel`.
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.registry().channels.get(channel).map_or(0, |s| s.len())
    }

    /// Number of subscribed patterns (across clients).
    pub fn numpat(&self) -> usize {
        self.registry().patterns.values().map(|s| s.len()).sum()
    }
}

trait OptionalPattern {
    fn is_none_or_match(&self, text: &[u8]) -> bool;
}

impl OptionalPattern for Option<&[u8]> {
    fn is_none_or_match(&self, text: &[u8]) -> bool {
        self.map_or(true, |p| glob_match(p, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_counts_channel_and_pattern_receivers() {
        let pubsub = PubSub::default();
        let (tx1, rx1) = async_channel::unbounded();
        let (tx2, rx2) = async_channel::unbounded();
        pubsub.subscribe(false, b"news", 1, &tx1);
        pubsub.subscribe(true, b"n*", 2, &tx2);
        assert_eq!(pubsub.publish(b"news", b"hi"), 2);
        assert_eq!(pubsub.publish(b"other", b"hi"), 0);
        assert_eq!(
            rx1.try_recv(),
            Ok(Reply::bulks([&b"message"[..], b"news", b"hi"]))
        );
        assert_eq!(
            rx2.try_recv(),
            Ok(Reply::bulks([&b"pmessage"[..], b"n*", b"news", b"hi"]))
        );
        drop(rx1);
        assert_eq!(pubsub.publish(b"news", b"again"), 1);
        assert_eq!(pubsub.numsub(b"news"), 0);
        pubsub.unsubscribe(true, b"n*", 2);
        assert_eq!(pubsub.numpat(), 0);
    }

    #[test]
    fn full_sink_is_closed() {
        let pubsub = PubSub::default();
        let (tx, rx) = async_channel::bounded(1);
        pubsub.subscribe(false, b"c", 1, &tx);
        assert_eq!(pubsub.publish(b"c", b"1"), 1);
        assert_eq!(pubsub.publish(b"c", b"2"), 0);
        assert!(rx.is_closed());
    }
}
