using Callern.Sdk;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Callern.Samples.SchoolBackend;

public sealed record CheckoutRequest(Guid? PackageId);

/// <summary>
/// The school's shop: it takes the payment (here a pretend one that always succeeds), then
/// records the purchase with Callern, which credits the student's minutes. The browser sends an
/// Idempotency-Key per checkout, so a double click or a retry after a timeout credits once.
/// </summary>
public static class Shop
{
    /// <summary><c>POST /student/api/purchases</c> on the signed-in student's group.</summary>
    public static RouteGroupBuilder MapShop(this RouteGroupBuilder student)
    {
        student.MapPost("/purchases", Checkout);
        return student;
    }

    private static async Task<Results<Ok<Purchase>, ValidationProblem, ProblemHttpResult>> Checkout(
        HttpContext http, CheckoutRequest request, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
        CallernApiFactory callern)
    {
        if (request.PackageId is not { } packageId || string.IsNullOrWhiteSpace(idempotencyKey) || idempotencyKey.Length > 100)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["checkout"] = ["Send a packageId and an Idempotency-Key header (1 to 100 characters) per checkout."],
            });
        }
        var student = SignIn.Current(http.User);
        // Pretend payment: a real shop charges the card here and keeps the provider's reference.
        var paymentReference = $"demo-payment:{idempotencyKey}";
        try
        {
            var purchase = await callern.For("school-shop", CallernRoles.Service, "School shop").RecordPurchaseAsync(
                student.Id, $"{student.Id}:{idempotencyKey}", new PurchaseRequest { PackageId = packageId, PaymentReference = paymentReference },
                http.RequestAborted);
            return TypedResults.Ok(purchase);
        }
        catch (CallernApiException<Callern.Sdk.HttpValidationProblemDetails> refused)
        {
            return TypedResults.ValidationProblem(refused.Result.Errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
        }
        catch (CallernApiException failed)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status502BadGateway, title: "Callern did not record the purchase.",
                detail: $"Callern answered {failed.StatusCode}.");
        }
    }
}
