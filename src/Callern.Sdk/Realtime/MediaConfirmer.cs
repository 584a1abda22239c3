namespace Callern.Sdk.Realtime;

/// <summary>
/// Confirms one call's media for billing every <see cref="Interval"/>, from a counter the app
/// supplies (the C# SDK has no WebRTC: an app with its own media stack passes a function that reads
/// its inbound media bytes). Create it with <see cref="CallernRealtimeClient.StartMediaConfirmations"/>
/// once the call is accepted (or rejoined); it stops by itself when the call ends.
/// </summary>
/// <remarks>
/// Each tick reads the counter, stamps the sample with <see cref="CallernRealtimeClient.ServerNow"/>
/// (the platform's clock, learned from the <c>serverTime</c> of <see cref="CallAcceptedEvent"/> and
/// of every <see cref="MediaConfirmationResult"/>) and sends it without waiting for the previous
/// answer. A tick while the connection is down is skipped, not queued: the platform counts a
/// confirmation only when it arrives within a few seconds of its sample, and a lapse is what
/// pauses billing. <c>confirmation_stale</c> (a confirmation buffered during a reconnect) and
/// <c>confirmation_too_fast</c> are ignored; <c>call_ended</c> and <c>call_not_found</c> stop it;
/// other refusals are reported through <see cref="Reported"/> and the next tick tries again.
/// </remarks>
public sealed class MediaConfirmer : IAsyncDisposable
{
    /// <summary>The platform's cadence for media confirmations: every 4 s.</summary>
    public static TimeSpan Interval { get; } = TimeSpan.FromSeconds(4);

    /// <summary>More answers outstanding than this and the tick is skipped: the connection is stuck, and piling up confirmations would only make them stale.</summary>
    private const int MaxInFlight = 3;

    private readonly CallernRealtimeClient _client;
    private readonly Func<long> _inboundBytes;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;

    private MediaConfirmer(CallernRealtimeClient client, Guid callId, Func<long> inboundBytes)
    {
        _client = client;
        CallId = callId;
        _inboundBytes = inboundBytes;
    }

    /// <summary>The call being confirmed.</summary>
    public Guid CallId { get; }

    /// <summary>Completes when the confirmer stopped: the call ended, or it was disposed.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Every confirmation sent, with the platform's answer or its refusal code: for an app's diagnostics, or a test's record.</summary>
    public event Func<MediaConfirmationReport, Task>? Reported;

    internal static MediaConfirmer Start(CallernRealtimeClient client, Guid callId, Func<long> inboundBytes)
    {
        ArgumentNullException.ThrowIfNull(inboundBytes);
        var confirmer = new MediaConfirmer(client, callId, inboundBytes);
        client.CallEnded += confirmer.OnCallEndedAsync;
        _ = confirmer.RunAsync();
        return confirmer;
    }

    private async Task RunAsync()
    {
        try
        {
            using var timer = new PeriodicTimer(Interval);
            do
            {
                if (_client.ConnectionState == RealtimeConnectionState.Disconnected)
                {
                    break; // The client was stopped.
                }
                if (_client.ConnectionState == RealtimeConnectionState.Connected && Volatile.Read(ref _inFlight) < MaxInFlight)
                {
                    _ = ConfirmOnceAsync();
                }
            }
            while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
        finally
        {
            _client.CallEnded -= OnCallEndedAsync;
            _completion.TrySetResult();
        }
    }

    private async Task ConfirmOnceAsync()
    {
        long bytes;
        try
        {
            bytes = _inboundBytes();
        }
        catch (Exception)
        {
            return; // The app's counter failed this time; nothing to confirm.
        }
        var sample = new MediaConfirmation { SampledAt = _client.ServerNow, InboundBytes = bytes };
        Interlocked.Increment(ref _inFlight);
        MediaConfirmationReport report;
        try
        {
            var result = await _client.ConfirmMediaAsync(CallId, sample, _stop.Token);
            report = new MediaConfirmationReport(CallId, sample.SampledAt, bytes, result, null);
        }
        catch (CallernRealtimeException refused)
        {
            report = new MediaConfirmationReport(CallId, sample.SampledAt, bytes, null, refused.Code);
            if (refused.Code is "call_ended" or "call_not_found")
            {
                await _stop.CancelAsync();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            return; // Stopped, or the client was disposed under it.
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
        var reported = Reported;
        if (reported is not null)
        {
            foreach (var handler in reported.GetInvocationList().Cast<Func<MediaConfirmationReport, Task>>())
            {
                await handler(report);
            }
        }
    }

    private async Task OnCallEndedAsync(CallEndedEvent ended)
    {
        if (ended.CallId == CallId)
        {
            await _stop.CancelAsync();
        }
    }

    /// <summary>Stops confirming (the call goes on; without confirmations its billing pauses).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Completion;
        // _stop is not disposed: a confirmation still awaiting its answer may cancel through it.
    }
}

/// <summary>A media confirmation the <see cref="MediaConfirmer"/> sent, and how the platform took it.</summary>
/// <param name="CallId">The call.</param>
/// <param name="SampledAt">When the counter was read, on the platform's clock as the client estimates it.</param>
/// <param name="InboundBytes">The counter's value.</param>
/// <param name="Result">The platform's answer; null when it refused.</param>
/// <param name="RefusedCode">The refusal's code (<c>confirmation_stale</c>, <c>not_connected</c>, …); null when accepted.</param>
public sealed record MediaConfirmationReport(Guid CallId, DateTimeOffset SampledAt, long InboundBytes, MediaConfirmationResult? Result, string? RefusedCode);
