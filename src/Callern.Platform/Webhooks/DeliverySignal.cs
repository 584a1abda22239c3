using System.Threading.Channels;
using Callern.Platform.Infrastructure;

namespace Callern.Platform.Webhooks;

/// <summary>
/// Wakes this node's <see cref="WebhookDispatcher"/>: when any node commits a transaction that
/// queued deliveries (the deliveries' trigger notifies <see cref="Channel"/>), when the notices may
/// have been missed, and every second for retries that came due.
/// </summary>
public sealed class DeliverySignal : INoticeHandler
{
    private readonly Channel<bool> _wake = System.Threading.Channels.Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public string Channel => "callern_webhooks";

    public void Heard(string payload) => Wake();

    public void MayHaveMissed() => Wake();

    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>Waits for the next wake-up (several while busy count as one).</summary>
    public async ValueTask<bool> WaitAsync(CancellationToken cancellationToken)
    {
        var woken = await _wake.Reader.WaitToReadAsync(cancellationToken);
        _wake.Reader.TryRead(out _);
        return woken;
    }
}
