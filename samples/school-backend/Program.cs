using Callern.Samples.SchoolBackend;

// The school's own server: its sign-in, its shop, and the two places where it talks to Callern
// (signing access tokens with the API key, recording purchases, receiving its webhooks for the
// receipts). The browsers never see the key.
var builder = WebApplication.CreateBuilder(args);

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.Configure<CallernOptions>(builder.Configuration.GetSection("Callern"));
builder.Services.Configure<WebAppOptions>(builder.Configuration.GetSection("WebApps"));
builder.Services.AddHttpClient("callern");
builder.Services.AddSingleton<CallernApiFactory>();
builder.Services.AddSingleton<SchoolDirectory>();
builder.Services.AddSchoolSignIn();
builder.Services.AddSingleton<ReceiptBook>();
builder.Services.AddSingleton<WebhookRegistration>().AddHostedService(sp => sp.GetRequiredService<WebhookRegistration>());
builder.Services.AddProblemDetails();

var app = builder.Build();

app.UseAuthentication();
app.UseAuthorization();
app.UseWebApps();

app.MapSchoolApp(SchoolApps.Student).MapShop().MapReceipts(app);
app.MapSchoolApp(SchoolApps.Teacher);

await app.RunAsync();
