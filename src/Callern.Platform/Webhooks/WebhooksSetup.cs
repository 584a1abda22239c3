using Callern.Platform.Infrastructure;

namespace Callern.Platform.Webhooks;

public static class WebhooksSetup
{
    public static IServiceCollection AddWebhooks(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<WebhookOptions>().Bind(configuration.GetSection("Callern:Webhooks"))
            .Validate(o => o.RetentionDays >= 1 && o.RetryHours >= 1 && o.RetryHours <= o.RetentionDays * 24
                && o.AttemptTimeoutSeconds is >= 1 and <= 60 && o.Concurrency is >= 1 and <= 256,
                "Callern:Webhooks is invalid: see docs/configuration.md.")
            .ValidateOnStart();
        services.AddSingleton<EventOutbox>();
        services.AddSingleton<EventLog>();
        services.AddSingleton<WebhookEndpointStore>();
        services.AddSingleton<WebhookSender>();
        services.AddSingleton<DeliverySignal>().AddNoticeHandler<DeliverySignal>();
        services.AddHostedService<WebhookDispatcher>();
        services.AddHostedService<EventRetention>();
        return services;
    }

    public static IEndpointRouteBuilder MapWebhooks(this IEndpointRouteBuilder app)
    {
        app.MapWebhookEndpoints();
        app.MapEvents();
        return app;
    }
}
