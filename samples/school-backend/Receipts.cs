using System.Collections.Concurrent;
using System.Text.Json;
using Callern.Sdk;
using Callern.Sdk.Webhooks;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Callern.Samples.SchoolBackend;

/// <summary>A line of a student's receipts, made from one of Callern's events.</summary>
public sealed record Receipt(string EventId, string Kind, string Text, DateTimeOffset At);

/// <summary>
/// The school's receipts, kept from Callern's webhooks: a line per bought package
/// (<c>wallet.purchase</c>) and per charged lesson (<c>call.ended</c>). Each event is taken once by
/// its id, however often it is delivered. In memory: a real school writes them to its database in
/// the transaction that records the event id.
/// </summary>
public sealed class ReceiptBook
{
    private readonly ConcurrentDictionary<string, (string StudentId, Receipt Receipt)> _byEvent = new();

    /// <summary>Takes the event once; events that make no receipt are ignored.</summary>
    public void Take(WebhookEvent e)
    {
        if (Describe(e) is { } line)
        {
            _byEvent.TryAdd(e.Id, line);
        }
    }

    public IReadOnlyList<Receipt> For(string studentId) =>
        _byEvent.Values.Where(r => r.StudentId == studentId).Select(r => r.Receipt).OrderByDescending(r => r.At).ToList();

    private static (string, Receipt)? Describe(WebhookEvent e)
    {
        var data = e.Data;
        switch (e.Type)
        {
            case "wallet.purchase":
                var price = data.GetProperty("price").GetDecimal();
                return (data.GetProperty("studentId").GetString()!, new Receipt(e.Id, "purchase",
                    $"{data.GetProperty("packageName").GetString()}: {data.GetProperty("seconds").GetInt64() / 60} minutes for {price:0.00} {data.GetProperty("currency").GetString()}",
                    e.Timestamp));
            case "call.ended" when data.GetProperty("chargedSeconds").GetInt64() is > 0 and var charged:
                var teacher = data.GetProperty("teacherId").GetString();
                return (data.GetProperty("studentId").GetString()!, new Receipt(e.Id, "lesson",
                    $"Lesson with {teacher}: {charged / 60}:{charged % 60:00} charged", e.Timestamp));
            default:
                return null;
        }
    }
}

/// <summary>
/// At start-up, makes sure Callern sends this server the events its receipts need, at
/// <see cref="CallernOptions.WebhookUrl"/>: it reuses the endpoint already registered for that URL
/// with a fresh secret (a secret is shown only once; the previous one keeps signing for a day), or
/// registers one.
/// </summary>
public sealed class WebhookRegistration(CallernApiFactory callern, IOptions<CallernOptions> options, ILogger<WebhookRegistration> logger)
    : BackgroundService
{
    private static readonly string[] Events = ["wallet.purchase", "call.ended"];
    private volatile WebhookVerifier? _verifier;

    /// <summary>Null until the endpoint is registered.</summary>
    public WebhookVerifier? Verifier => _verifier;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (string.IsNullOrEmpty(options.Value.WebhookUrl))
        {
            logger.LogInformation("Callern:WebhookUrl is not set: no receipts from Callern's webhooks.");
            return;
        }
        for (var attempt = 1; attempt <= 10; attempt++)
        {
            try
            {
                var api = callern.For("school-backend", CallernRoles.Service, "School backend");
                var existing = (await api.ListWebhookEndpointsAsync(null, 200, stoppingToken)).Items.FirstOrDefault(e => e.Url == options.Value.WebhookUrl);
                var secret = existing is null
                    ? (await api.CreateWebhookEndpointAsync(new CreateWebhookEndpointRequest { Url = options.Value.WebhookUrl, Events = Events, Description = "Receipts" }, stoppingToken)).Secret
                    : (await api.RotateWebhookSecretAsync(existing.Id, stoppingToken)).Secret;
                _verifier = new WebhookVerifier(secret);
                logger.LogInformation("Receiving Callern's events at {Url}.", options.Value.WebhookUrl);
                return;
            }
            catch (Exception error) when (error is HttpRequestException or CallernApiException)
            {
                logger.LogWarning("Registering the webhook failed ({Error}); trying again.", error.Message);
                await Task.Delay(TimeSpan.FromSeconds(attempt), stoppingToken);
            }
        }
        logger.LogError("Callern's webhook could not be registered: no receipts until the next start.");
    }
}

public static class Receipts
{
    /// <summary><c>POST /callern/webhooks</c> (Callern, signed), and <c>GET /student/api/receipts</c> on the signed-in student's group.</summary>
    public static RouteGroupBuilder MapReceipts(this RouteGroupBuilder student, IEndpointRouteBuilder app)
    {
        app.MapPost("/callern/webhooks", ReceiveAsync);
        student.MapGet("/receipts", (HttpContext http, ReceiptBook book) => TypedResults.Ok(book.For(SignIn.Current(http.User).Id)));
        return student;
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> ReceiveAsync(HttpRequest request, WebhookRegistration registration, ReceiptBook book)
    {
        if (registration.Verifier is not { } verifier)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Not ready for Callern's events yet.");
        }
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, request.HttpContext.RequestAborted);
        try
        {
            book.Take(verifier.Verify(body.ToArray(), name => request.Headers[name]));
            return TypedResults.NoContent();
        }
        catch (Exception refused) when (refused is WebhookVerificationException or KeyNotFoundException or InvalidOperationException)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Not a valid Callern event.", detail: refused.Message);
        }
    }
}
