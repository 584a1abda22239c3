using Callern.Platform.Infrastructure;

namespace Callern.Platform.Tenancy;

/// <summary>
/// Tells this node's settings caches that a tenant's settings changed, on whichever node the change
/// was made. A trigger on <c>tenants</c> (migration 0012) sends <c>NOTIFY callern_settings</c> when
/// a tenant's settings change, from any writer; every node listens (<see cref="NoticeListener"/>) and
/// bumps <see cref="Generation"/> when told, so every cache entry read before it is stale at once.
/// While the listening connection is down (and once more when it is back, as notifications may have
/// been missed) the caches fall back to their short expiry (<see cref="SettingsStore.CacheFor"/>).
/// </summary>
public sealed class SettingsChanges : INoticeHandler
{
    public string Channel => "callern_settings";

    private long _generation;

    /// <summary>Changes with every change heard of: a cache entry read under another generation is stale.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>A change made by this node, or heard of: every settings cache entry on this node is stale.</summary>
    public void Changed() => Interlocked.Increment(ref _generation);

    public void Heard(string payload) => Changed();

    public void MayHaveMissed() => Changed();
}
