"""Tasks for the local control plane: cluster-up and cluster-down."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke.tasks import task

from tasks.common import PRJ, user_errors

if TYPE_CHECKING:
    from invoke.context import Context


@task(
    name="cluster-up",
    help={"name": "the cluster's name in the kubeconfig (default dev, as global.cluster of values/dev.yaml)"},
)
@user_errors
def cluster_up(c: Context, name: str = "dev") -> None:
    """Start the local control plane (etcd, API server, controller-manager, scheduler, 3 kwok nodes)."""
    from keelson import cluster as local_cluster

    report = local_cluster.up(PRJ, name)
    if report.already_running:
        print(f"cluster   {report.name:<8} ok    already running")
    for component in report.components:
        print(f"{component.name:<23} ok {component.seconds:6.2f}s  {component.detail}")
    print(f"export KUBECONFIG={report.kubeconfig}   # context keelson-{report.name}")


@task(name="cluster-down")
@user_errors
def cluster_down(c: Context) -> None:
    """Stop the processes cluster-up started and remove .cluster/."""
    from keelson import cluster as local_cluster

    stopped = local_cluster.down(PRJ)
    print(f"stopped {', '.join(stopped)}" if stopped else "no cluster was running")
