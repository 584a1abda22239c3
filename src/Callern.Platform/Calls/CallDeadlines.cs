using Callern.Platform.Infrastructure;

namespace Callern.Platform.Calls;

/// <summary>The durable timers of calls; each handler checks the call is still where it expects.</summary>
public static class CallDeadlines
{
    public const string OfferTimeout = "call.offer_timeout";
    public const string QueueRetry = "call.queue_retry";
    public const string QueueTimeout = "call.queue_timeout";
    public const string SetupTimeout = "call.setup_timeout";
    public const string Tick = "call.tick";
    public const string ReconnectGrace = "call.reconnect_grace";

    public static IServiceCollection AddCallDeadlines(this IServiceCollection services)
    {
        services.AddSingleton<IDeadlineHandler>(sp => new Handler(OfferTimeout, (d, c) => sp.GetRequiredService<CallService>().OfferTimedOutAsync(d, c)));
        services.AddSingleton<IDeadlineHandler>(sp => new Handler(QueueRetry, (d, c) =>
        {
            // The whole school's queue, oldest first: requests due in the same sweep must not overtake each other.
            c.AfterCommit(() => sp.GetRequiredService<CallService>().DispatchQueuedAsync(d.TenantId));
            return Task.CompletedTask;
        }));
        services.AddSingleton<IDeadlineHandler>(sp => new Handler(QueueTimeout, (d, c) =>
            sp.GetRequiredService<CallEnding>().EndForDeadlineAsync(d, c, "queued", EndReasons.NoTeacher)));
        services.AddSingleton<IDeadlineHandler>(sp => new Handler(SetupTimeout, (d, c) =>
            sp.GetRequiredService<CallEnding>().EndForDeadlineAsync(d, c, "accepted", EndReasons.SetupFailed)));
        services.AddSingleton<IDeadlineBatchHandler>(sp => new TickHandler(sp));
        services.AddSingleton<IDeadlineHandler>(sp => new Handler(ReconnectGrace, (d, c) => sp.GetRequiredService<CallMetering>().GraceEndedAsync(d, c)));
        return services;
    }

    private sealed class TickHandler(IServiceProvider services) : IDeadlineBatchHandler
    {
        public string Kind => Tick;
        public Task HandleAsync(IReadOnlyList<Deadline> deadlines, DeadlineContext context) =>
            services.GetRequiredService<CallMetering>().TickAsync(deadlines, context);
    }

    private sealed class Handler(string kind, Func<Deadline, DeadlineContext, Task> handle) : IDeadlineHandler
    {
        public string Kind => kind;
        public Task HandleAsync(Deadline deadline, DeadlineContext context) => handle(deadline, context);
    }
}
