"""Where the Ray scheme's actors run: Ray itself, the placement group, actor options.

One placement group holds a bundle per gradient worker with the resources of it and its
collection workers (``gradient_num_cpus + N/M * collection_num_cpus`` CPUs and
``gradient_num_gpus`` GPUs), so a gradient worker's rollouts never cross the network;
``placement_strategy`` ``PACK`` keeps the bundles on few nodes, ``SPREAD`` spreads them.
"""

import os

__all__ = ["start_ray", "make_placement_group", "actor_options"]


def start_ray(ray_init_kwargs: dict) -> bool:
    """``ray.init(**ray_init_kwargs)`` unless Ray is up, joining the cluster of
    ``RAY_ADDRESS`` when that is set; whether this call started Ray."""
    import ray

    if ray.is_initialized():
        return False
    kwargs = dict(ray_init_kwargs)
    if os.environ.get("RAY_ADDRESS") and "address" not in kwargs:
        kwargs["address"] = os.environ["RAY_ADDRESS"]  # join that cluster
    ray.init(**kwargs)
    return True


def make_placement_group(scheme, per_gradient_worker: int):
    """The scheme's placement group, placed (None without ``placement_strategy`` or
    resources). A ``ValueError`` when the cluster has fewer CPUs than the scheme reserves,
    a ``RuntimeError`` when the group is not placed within ``startup_timeout``."""
    import ray

    per_bundle = scheme.gradient_num_cpus + per_gradient_worker * scheme.collection_num_cpus
    cluster = ray.cluster_resources().get("CPU", 0)
    if per_bundle * scheme.gradient_workers > cluster:
        raise ValueError(
            f"the scheme needs {per_bundle * scheme.gradient_workers:g} CPUs "
            f"({scheme.gradient_workers} x ({scheme.gradient_num_cpus:g} + "
            f"{per_gradient_worker} x {scheme.collection_num_cpus:g})), the Ray "
            f"cluster has {cluster:g}: lower collection_num_cpus/gradient_num_cpus or add nodes"
        )
    if scheme.placement_strategy is None or per_bundle == 0:
        return None
    from ray.util.placement_group import placement_group

    bundle = {"CPU": per_bundle}
    if scheme.gradient_num_gpus:
        bundle["GPU"] = scheme.gradient_num_gpus
    group = placement_group(
        [dict(bundle) for _ in range(scheme.gradient_workers)],
        strategy=scheme.placement_strategy,
    )
    ready, _ = ray.wait([group.ready()], timeout=scheme.startup_timeout)
    if not ready:
        raise RuntimeError(
            f"the placement group of {scheme.gradient_workers} bundles {bundle} "
            f"({scheme.placement_strategy}) was not placed within "
            f"{scheme.startup_timeout} s: the cluster cannot fit it"
        )
    return group


def actor_options(group, bundle_index: int, num_cpus: float) -> dict:
    """``ray.remote(...).options`` of an actor of ``num_cpus`` CPUs in bundle
    ``bundle_index`` of ``group`` (None: no placement group)."""
    options = dict(num_cpus=num_cpus)
    if group is not None:
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
            placement_group=group, placement_group_bundle_index=bundle_index
        )
    return options
