//! The world's schedule and clock under the knobs that shape them.

use super::*;

/// How many times each miner reports each changed listing, before and after its change.
fn sightings(world: &World<'_>) -> Vec<(usize, usize)> {
    let mut seen: BTreeMap<(usize, usize), (usize, usize)> = BTreeMap::new();
    for (&(miner, round), listings) in &world.schedule {
        for &listing in listings {
            if let Some(change) = world.truths[listing].change {
                let entry = seen.entry((miner, listing)).or_default();
                if round < change.round {
                    entry.0 += 1;
                } else {
                    entry.1 += 1;
                }
            }
        }
    }
    seen.into_values().collect()
}

#[test]
fn stale_reports_outlive_a_change_only_when_miners_do_not_rescrape() {
    let config = GeneratorConfig {
        listings: 300,
        change_rate: 0.5,
        ..GeneratorConfig::default()
    };
    // every miner that saw a listing before its change sees it again after
    let world = World::build(&config);
    let always = sightings(&world);
    assert!(always.iter().any(|&(before, _)| before > 0));
    assert!(
        always
            .iter()
            .all(|&(before, after)| before == 0 || after > 0)
    );
    // none does, yet the world is otherwise the same: who reports what first is unchanged
    let never = GeneratorConfig {
        rescrape_rate: 0.0,
        ..config.clone()
    };
    let stale = World::build(&never);
    assert!(
        sightings(&stale)
            .iter()
            .all(|&(before, after)| before + after == 1)
    );
    let firsts = |world: &World<'_>| {
        let mut firsts: BTreeMap<(usize, usize), usize> = BTreeMap::new();
        for (&(miner, round), listings) in &world.schedule {
            for &listing in listings {
                let first = firsts.entry((miner, listing)).or_insert(round);
                *first = (*first).min(round);
            }
        }
        firsts
    };
    assert_eq!(firsts(&world), firsts(&stale));
    // and in between, some do
    let sometimes = GeneratorConfig {
        rescrape_rate: 0.5,
        ..config
    };
    let half = World::build(&sometimes);
    let rescraped = sightings(&half);
    let pairs = |wanted: usize| {
        rescraped
            .iter()
            .filter(|&&(before, after)| before == 1 && after == wanted)
            .count()
    };
    assert!(pairs(0) > 10 && pairs(1) > 10, "{rescraped:?}");
}

#[test]
fn rounds_days_apart_fall_in_the_epochs_of_their_time() {
    let config = GeneratorConfig {
        round_hours: 48,
        ..GeneratorConfig::default()
    };
    let world = World::build(&config);
    let miner = &world.miners[0];
    assert_eq!(
        world.round_time(miner, 3) - world.round_time(miner, 0),
        Duration::hours(144)
    );
    assert_eq!(world.epoch_of(3), 36);
    assert_eq!(
        world.epoch_start(36),
        world.round_time(miner, 3) - Duration::seconds(miner.offset_secs)
    );
    // the network's cadence: two rounds to an epoch, mining ending at the second
    let standard = GeneratorConfig::default();
    let world = World::build(&standard);
    let miner = &world.miners[0];
    assert_eq!((world.epoch_of(4), world.epoch_of(5)), (2, 2));
    assert_eq!(world.mining_end(miner, 2), world.round_time(miner, 5));
}

#[test]
fn knobs_it_cannot_honour_are_refused() {
    assert!(GeneratorConfig::default().validate().is_ok());
    for config in [
        GeneratorConfig {
            rescrape_rate: 1.5,
            ..GeneratorConfig::default()
        },
        GeneratorConfig {
            change_rate: -0.1,
            ..GeneratorConfig::default()
        },
        GeneratorConfig {
            round_hours: 0,
            ..GeneratorConfig::default()
        },
        GeneratorConfig {
            rounds: usize::MAX,
            ..GeneratorConfig::default()
        },
    ] {
        assert!(config.validate().is_err(), "{config:?}");
    }
}
