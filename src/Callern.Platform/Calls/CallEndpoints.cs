using Callern.Platform.Infrastructure;
using Callern.Platform.People;
using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Callern.Platform.Calls;

public static class CallEndpoints
{
    public static IServiceCollection AddCalls(this IServiceCollection services) =>
        services.AddSingleton<CallRequests>().AddSingleton<CallAnswering>().AddSingleton<CallRatings>().AddSingleton<CallReads>().AddSingleton<CallEnding>().AddSingleton<CallMetering>().AddSingleton<MediaConfirmations>()
            .AddSingleton<CallAcceptedEvents>().AddSingleton<CallEvents>().AddSingleton<CallRejoining>().AddSingleton<LiveCallParticipants>().AddNoticeHandler<LiveCallParticipants>().AddSingleton<CallNotifier>()
            .AddSingleton<Matching.ICallFacts, MatchingFacts>().AddHostedService<MediaConfirmationWatchdog>().AddDeadlines().AddCallDeadlines();

    public static IEndpointRouteBuilder MapCalls(this IEndpointRouteBuilder app)
    {
        var calls = app.MapGroup("/v1/calls").WithTags("Calls").RequireAuthorization(Policies.TenantUser);
        calls.MapPost("/", Request).RequireAuthorization(Policies.Student).WithName("RequestCall")
            .ProducesProblem(StatusCodes.Status402PaymentRequired).ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("A student asks for a teacher now: the best free teacher is rung, or the request waits in the queue.");
        calls.MapGet("/", List).WithName("ListCalls")
            .WithSummary("Call history, newest first: a student's or a teacher's own calls; admins see all and may filter.");
        calls.MapGet("/{callId:guid}", Get).WithName("GetCall")
            .WithSummary("One call with its offers, billing, rating, chat transcript, files and whiteboard (the summary once ended).");
        calls.MapPost("/{callId:guid}/end", End).WithName("EndCall").ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Ends (or withdraws) the call; ending twice has one effect. Admins may end any call of their school.");
        calls.MapPost("/{callId:guid}/rating", Rate).RequireAuthorization(Policies.Student).WithName("RateCall")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("The student rates the teacher of an ended call once (1–5 stars, optional comment).");

        app.MapGroup("/v1/me/calls").WithTags("Calls").RequireAuthorization(Policies.TenantUser)
            .MapGet("/live", GetMyLiveCall).WithName("GetMyLiveCall")
            .WithSummary("The caller's accepted or connected call, to rejoin after a reload; call is null when there is none.");
        return app;
    }

    private static async Task<Results<Created<Call>, ValidationProblem, ProblemHttpResult>> Request(CallRequest request, HttpContext http, CallRequests calls)
    {
        var errors = request.Validate(new FieldErrors());
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        try
        {
            var call = await calls.RequestAsync(http.User.RequiredCaller(), request);
            return TypedResults.Created($"/v1/calls/{call.Id}", call);
        }
        catch (CallRuleException rule)
        {
            return Problem(rule);
        }
    }

    private static async Task<Ok<LiveCallResponse>> GetMyLiveCall(HttpContext http, CallRejoining rejoining) =>
        TypedResults.Ok(new LiveCallResponse(await rejoining.LiveCallAsync(http.User.RequiredCaller())));

    private static async Task<Results<Ok<Page<Call>>, ValidationProblem>> List(
        HttpContext http, CallReads calls, string? cursor, int? limit, string? studentId, string? teacherId, CallState? state)
    {
        var errors = new FieldErrors();
        var (before, size) = Cursor.ReadGuid(cursor, limit, errors);
        if (studentId is not null)
        {
            errors.Id(studentId, "studentId");
        }
        if (teacherId is not null)
        {
            errors.Id(teacherId, "teacherId");
        }
        // The binder takes numbers too ("-1"): only the named states are.
        errors.Check(state is null || Enum.IsDefined(state.Value), "state", "One of queued, ringing, accepted, connected, ended.");
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var caller = http.User.RequiredCaller();
        // Students and teachers see their own calls only, whatever they filter by.
        if (caller.Role == Roles.Student)
        {
            studentId = caller.UserId;
        }
        else if (caller.Role == Roles.Teacher)
        {
            teacherId = caller.UserId;
        }
        var rows = await calls.ListAsync(caller.TenantId, studentId, teacherId, state, before, size + 1);
        return TypedResults.Ok(Cursor.ToPage(rows, size, c => c.Id.ToString()));
    }

    private static async Task<Results<Ok<Call>, NotFound>> Get(Guid callId, HttpContext http, CallReads calls, ICallSummaryParts classroom)
    {
        var caller = http.User.RequiredCaller();
        var call = await calls.VisibleCallAsync(caller, callId);
        return call is not null ? TypedResults.Ok(await classroom.WithPartsAsync(call, caller.TenantId)) : TypedResults.NotFound();
    }

    private static async Task<Results<Ok<Call>, NotFound, ProblemHttpResult>> End(Guid callId, HttpContext http, CallEnding ending)
    {
        try
        {
            return TypedResults.Ok(await ending.EndAsync(http.User.RequiredCaller(), callId));
        }
        catch (CallRuleException rule) when (rule.Status == StatusCodes.Status404NotFound)
        {
            return TypedResults.NotFound();
        }
        catch (CallRuleException rule)
        {
            return Problem(rule);
        }
    }

    private static async Task<Results<Ok<Call>, NotFound, ValidationProblem, ProblemHttpResult>> Rate(
        Guid callId, RateCallRequest request, HttpContext http, CallRatings ratings)
    {
        var errors = new FieldErrors()
            .Check(request.Stars is >= 1 and <= 5, "stars", "1 to 5.")
            .Optional(request.Comment, "comment", 1000);
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        try
        {
            return TypedResults.Ok(await ratings.RateAsync(http.User.RequiredCaller(), callId, request.Stars!.Value, request.Comment));
        }
        catch (CallRuleException rule) when (rule.Status == StatusCodes.Status404NotFound)
        {
            return TypedResults.NotFound();
        }
        catch (CallRuleException rule)
        {
            return Problem(rule);
        }
    }

    private static ProblemHttpResult Problem(CallRuleException rule) =>
        TypedResults.Problem(statusCode: rule.Status, title: rule.Message, extensions: new Dictionary<string, object?> { ["code"] = rule.Code });
}
