"""Real-inbox material for the postsortering generator (all text invented): English sentence banks per subject
(expats write ~10% of a municipal inbox), forwarded-mail wrappers with headers and quoted replies, letters from
lawyers / accountants / other authorities, signatures and disclaimers that carry words of other subjects, and
"main request + side mention" phrases. The English banks are split by template family like the Danish ones
(sentence k belongs to family k % 3), so the held-out family still sees only unseen phrasings."""

# per subject: (English subject lines, English request sentences); sentence k -> family k % 3
ENGLISH = {
    "byggesag": (["Building permit", "Question about my building application", "Permit for a carport"],
                 ["We want to build {byg} on our property. Do we need a building permit from the municipality?",
                  "I submitted a building application {n} weeks ago and have heard nothing. When can I expect a decision?",
                  "Our neighbour is building something very close to the boundary. Did they get permission?",
                  "What documents do you need for the building application for our extension?",
                  "The construction is finished. How do we report completion and get the occupancy permit?",
                  "How high are we allowed to build according to the local plan for our area?"]),
    "affald": (["Waste collection", "Garbage not collected", "Recycling question"],
               ["Our garbage bin was not emptied this week even though it was out by the road.",
                "How do I order a new bin for food waste? Ours is broken.",
                "When is bulky waste collected, and how do I book a pickup for an old sofa?",
                "What are the opening hours of the recycling centre on weekends?",
                "Which bin should pizza boxes and soft plastic go in?",
                "Why did we receive a bill for waste collection for a house we have sold?"]),
    "veje-og-parkering": (["Parking", "Pothole in the road", "Street light broken"],
                          ["There is a large pothole in the road outside our house. Can it be repaired?",
                           "I got a parking fine but the signs were unclear. How can I appeal it?",
                           "The street light on our road has not worked for two weeks.",
                           "How do I apply for a residents' parking permit?",
                           "The pavement has not been cleared of snow and it is very slippery.",
                           "Cars drive far too fast on our street. Can you install speed bumps?"]),
    "ejendomsskat": (["Property tax", "Land tax question", "Property tax payment"],
                     ["I think my property tax is too high. How can I get it reviewed?",
                      "Can I pay the land tax in monthly instalments?",
                      "I received a property tax bill for a house I no longer own.",
                      "How is the land tax calculated for our plot?",
                      "Can pensioners defer the property tax?",
                      "When is the property tax due and where do I find the payment details?"]),
    "dagtilbud": (["Daycare place", "Nursery application", "Kindergarten"],
                  ["How do we apply for a nursery place for our 8 month old son?",
                   "We want to cancel our daughter's kindergarten place because we are moving.",
                   "Is there a waiting list for kindergarten places in our area?",
                   "Can we get a reduced fee for the daycare because of our low income?",
                   "Our childminder is ill. Where can we bring our child tomorrow?",
                   "What does a kindergarten place cost per month?"]),
    "skole": (["School enrolment", "After-school club", "School question"],
              ["How do we enrol our son in the local public school?",
               "What does the after-school club cost and how do we sign up?",
               "Our daughter is being bullied at school. Who can we talk to?",
               "Can our child get free school transport? We live far from the school.",
               "Is there a class for children who do not yet speak Danish?",
               "We would like to move our child to another school. How does that work?"]),
    "boern-og-familie": (["Family support", "Help for our child", "Foster family"],
                         ["We need support as a family; our teenage son is out of control.",
                          "How do we become a foster family?",
                          "I am worried about a child in our building. Who should I contact?",
                          "Can we get respite care for our child with special needs?",
                          "We would like family counselling after our divorce. Is that offered?",
                          "Our daughter has run away several times and we do not know what to do."]),
    "aeldrepleje": (["Home help", "Care for my mother", "Nursing home"],
                    ["My mother is 88 and needs help with cleaning and shopping. How do we apply?",
                     "The home carer did not come yesterday and my father missed his medicine.",
                     "How do we apply for a place in a nursing home for my father with dementia?",
                     "Can my grandmother get meals delivered to her home?",
                     "My mother has fallen twice. Can she get a personal alarm?",
                     "How long is the waiting list for a care home?"]),
    "sundhed-og-genoptraening": (["Rehabilitation", "Physiotherapy", "Dental care for children"],
                                 ["I had surgery and the hospital said the municipality will arrange rehabilitation. When does it start?",
                                  "Our child needs braces. Does the municipal dental service cover it?",
                                  "Does the municipality offer a stop-smoking course?",
                                  "When will the health visitor come to see our newborn baby?",
                                  "I was promised physiotherapy after my knee operation but nobody has called.",
                                  "Is there a training programme for people with diabetes?"]),
    "beskaeftigelse": (["Job centre", "Unemployment", "Sick leave meeting"],
                       ["I have been called to a meeting at the job centre but I am sick. Can it be moved?",
                        "I lost my job. How do I register as unemployed?",
                        "Our company would like to hire someone with a wage subsidy.",
                        "I have been on sick leave for two months. What happens with my sickness benefit?",
                        "I was granted a flex job but have not heard anything since.",
                        "Can the job centre help me with a Danish course to find work?"]),
    "ydelser": (["Financial help", "Housing benefit", "Benefit payment"],
                ["I have not received my benefit payment this month and I have no money for food.",
                 "How do I apply for housing benefit?",
                 "Can I get financial help to pay for an expensive dental treatment?",
                 "My cash benefit has been reduced and I do not understand why.",
                 "I cannot pay my rent this month. Is there emergency help?",
                 "Can I get help to pay for a deposit on a new flat?"]),
    "borgerservice": (["Passport", "Change of address", "Health card"],
                      ["I lost my passport. How do I get a new one?",
                       "How do I register my new address after moving?",
                       "I need a new yellow health insurance card.",
                       "I cannot log in with MitID. Can you help me?",
                       "Do I need an appointment to renew my driving licence?",
                       "I just moved to Denmark. How do I get a CPR number?"]),
    "miljoe": (["Noise complaint", "Environment", "Pollution"],
               ["There is loud noise from a workshop every night. Is this allowed?",
                "I saw oil in the stream behind our house. Who should I report it to?",
                "We have rats in the garden. Who can help?",
                "Our neighbour burns garbage in the garden and the smoke is awful.",
                "How do we remove an old oil tank from our garden?",
                "A farm near us spreads manure that smells terrible for weeks."]),
    "kultur-og-fritid": (["Library", "Sports hall booking", "Culture grant"],
                         ["How can our club book time in the sports hall?",
                          "Is the library open on Sundays?",
                          "Can our association apply for a grant for a cultural event?",
                          "Are there swimming lessons for children at the public pool?",
                          "How do we rent a room at the community centre for a party?",
                          "I got a bill from the library for a book I returned."]),
    "klager-og-aktindsigt": (["Complaint", "Access to documents", "Formal complaint"],
                             ["I want to file a formal complaint about how my case has been handled.",
                              "I request access to all documents the municipality holds about me.",
                              "Nobody has answered my emails for months. I want to complain.",
                              "I would like to complain about a rude employee.",
                              "As a journalist I request access to the contracts with the supplier.",
                              "I received a letter with another person's personal data."]),
    "handicap-og-psykiatri": (["Disability support", "Support for my son", "Wheelchair"],
                              ["My son has autism and needs support in his own flat. How do we apply?",
                               "My wife uses a wheelchair. Can we get help to adapt our home?",
                               "How long is the waiting list for supported housing?",
                               "My brother has schizophrenia and has no support after leaving hospital.",
                               "Can my daughter with a disability get a companion for leisure activities?",
                               "We want to apply for support to buy a car adapted for a wheelchair."]),
}
EN_GREETINGS = ["Hello", "Hi", "Dear Sir or Madam", "Dear municipality", "Hi there", "Good morning", ""]
EN_OPENERS = ["Sorry for writing in English.", "I do not speak Danish yet, I hope that is ok.",
              "I moved to Denmark last year.", "I tried to call but could not get through.",
              "I could not find the answer on your website.", "I hope this is the right address."]
EN_CLOSINGS = ["Thank you in advance.", "Kind regards", "Best regards", "Thanks!", "Many thanks", "Best wishes",
               "Looking forward to hearing from you."]
EN_NAMES = ["John", "Maria", "Ahmed", "Anna Kowalski", "Sarah", "Luca", "Priya", "Michael", "Elena", "Tom Smith",
            "Olga", "James", "Fatima", "Daniel", "Chen"]

# Forwarded mail: a note from the forwarding colleague (a department that has nothing to do with the subject),
# then a header block or quoted lines, then the original letter.
DEPARTMENTS = ["Borgerservice", "Jobcenter Syd", "Skoleafdelingen", "Affald og Genbrug", "Visitationen",
               "Teknik og Miljø", "Pladsanvisningen", "Ejendomsskat", "Byggesagsafdelingen", "Ydelseskontoret",
               "Sundhedsplejen", "Kultur og Fritid", "Jura og Klager", "Socialpsykiatrien", "Familieafdelingen",
               "Vej og Park", "Hovedpostkassen", "Direktionssekretariatet", "Økonomi", "Ældreområdet"]
FORWARD_NOTES = ["Hej {afd2}\n\nDenne kom ind hos os i {afd1}, men hører vist til hos jer.\n\nMvh {fornavn}, {afd1}",
                 "Videresendes til rette afdeling.\n/{fornavn}",
                 "Fejlsendt til {afd1}, sender den videre.",
                 "Hej kolleger\nBorgeren ringede til {afd1} i går og bad os sende dette videre. Kan I tage den?\n{fornavn}",
                 "Til orientering og videre behandling.\nVenlig hilsen\n{fornavn}\n{afd1}",
                 "Hej {afd2}, kan I svare borgeren? Det er ikke en sag for {afd1}.",
                 "FYI – modtaget i hovedpostkassen.",
                 "Sender denne videre, da vi ikke kan hjælpe i {afd1}."]
FORWARD_HEADERS = ["-----Oprindelig meddelelse-----\nFra: {navn}\nSendt: {dato} {klok}\nTil: {postkasse}\nEmne: {emne}",
                   "---------- Videresendt besked ----------\nFra: {navn}\nDato: {dato}\nEmne: {emne}",
                   "-----Original Message-----\nFrom: {navn}\nSent: {dato}\nTo: {postkasse}\nSubject: {emne}",
                   "Fra: {navn} <{mail}>\nSendt: {dato}\nTil: {postkasse}\nEmne: {emne}",
                   "Den {dato} kl. {klok} skrev {navn}:"]
POSTKASSER = ["Post Kommune", "post@kommune.dk", "Borgerservice", "Hovedpostkasse", "kontakt@kommunen.dk",
              "Digital Post – Kommunen"]
# quoted earlier reply from the municipality, label-independent boilerplate
QUOTED_REPLIES = ["> Kære borger. Tak for din henvendelse. Vi har modtaget din mail og vender tilbage hurtigst muligt.\n> Med venlig hilsen {afd1}",
                  "> Tak for din henvendelse til {afd1}. Din sag har fået nummer {sagsnr}.\n> Venlig hilsen",
                  "> Hej. Vi har videregivet din besked til rette medarbejder.\n> Mvh {fornavn}",
                  "> Tak for din mail. Vi har svært ved at besvare den, kan du uddybe?\n> {afd1}"]
REPLY_LEADS = ["Tak for svaret, men det hjælper mig ikke.", "Jeg har stadig ikke hørt noget.", "Se nedenfor.",
               "Jeg skriver igen, da intet er sket.", "Tak, men der er en ting mere.", ""]

# Letters from lawyers, accountants, estate agents, consultants: an opening that says who writes (label-independent)
PRO_OPENERS = ["Advokatfirmaet {firma2} repræsenterer {klient} i denne sag.",
               "Undertegnede advokat skriver på vegne af {klient}.",
               "Revisionsfirmaet {firma2} skriver på vegne af {klient}.",
               "Som ejendomsmægler for {klient} skriver jeg med følgende spørgsmål.",
               "Vi er rådgiver for {klient} og henvender os i den forbindelse.",
               "Som bisidder for {klient} skriver jeg til jer.",
               "Jeg skriver som advokat for {klient} og med dennes fuldmagt."]
KLIENT = ["vores klient", "ejeren af ejendommen", "borgeren", "min klient", "familien", "dødsboet", "sælger"]
FIRMA2 = ["Holm & Partnere", "Lund Advokater", "Dahl & Co.", "Nielsen Revision", "Advodan", "Jensen & Kjær",
          "BDO", "Home Ejendomsmægler"]
# Authority senders (other than the municipality)
AUTHORITY_OPENERS = ["{myndighed} skriver til kommunen med følgende.", "{myndighed} anmoder kommunen om følgende.",
                     "Til orientering fra {myndighed}:", "{myndighed} har modtaget nedenstående og sender det til kommunen.",
                     "Journalnr. {sagsnr}. {myndighed} beder om kommunens svar på følgende."]
MYNDIGHEDER2 = ["Vurderingsstyrelsen", "Familieretshuset", "Kriminalforsorgen", "Regionshospitalet",
                "Midt- og Vestjyllands Politi", "Københavns Politi", "Beredskabsstyrelsen", "Arbejdstilsynet",
                "Styrelsen for Arbejdsmarked og Rekruttering", "Sundhedsstyrelsen", "Tinglysningsretten",
                "Nabokommunen", "Boligselskabet", "Region Syddanmark"]

# Signatures and disclaimers that carry words of other subjects (job titles, departments, slogans): noise.
NOISY_SIGS = ["{navn} | Konsulent | Ældre- og Sundhedsforvaltningen", "{navn}\nPædagog, Børnehuset Solsikken",
              "{navn}\nSkolelærer, Vestre Skole", "{navn}\nSocial- og sundhedsassistent",
              "{navn}\nByggeleder | {firma} A/S", "{navn}\nJobkonsulent, Jobcenteret",
              "{navn}\nFormand for Grundejerforeningen Søbakken", "{navn}\nKasserer i Boldklubben",
              "{navn}\nBestyrelsesmedlem, Forældrebestyrelsen", "{navn}\nSygeplejerske, Regionshospitalet",
              "Husk at sortere dit affald – det gør en forskel!", "Tænk på miljøet før du printer denne mail.",
              "Denne mail er sendt fra en skærmet arbejdsplads i Borgerservice.",
              "Vores åbningstider i jul: se kommunens hjemmeside om genbrugspladser og biblioteker.",
              "Fortrolighed: Denne e-mail kan indeholde personfølsomme oplysninger om CPR, helbred og sociale forhold. Er du ikke rette modtager, så slet den.",
              "{navn}\nEjendomsadministrator | {firma} Ejendomme",
              "Sendt fra min iPad\n\nP.S. Glædelig jul fra os alle i Dagplejen",
              "Mvh {navn}\nTillidsrepræsentant, Hjemmeplejen Nord"]

# Side mentions: another subject named in passing, no request. {x} = a phrase of the other subject.
SIDE_FRAMES = ["Jeg har også en sag om {x} hos jer, men det er noget andet.",
               "(Min sag om {x} er i øvrigt afsluttet.)",
               "Det drejer sig ikke om {x}, som jeg skrev om sidst.",
               "Jeg ved godt, at I også står for {x}, men det er ikke det, jeg skriver om.",
               "Jeg har skrevet separat om {x}.",
               "Vi er i forvejen i kontakt med jer om {x}, og det går fint.",
               "PS: {x} har jeg styr på.",
               "Min kone tager sig af {x}, så det skal I ikke tænke på.",
               "I sidste uge talte jeg med jer om {x}, tak for det.",
               "Jeg er i øvrigt også utilfreds med {x}, men det tager jeg en anden gang."]
SIDE = {
    "byggesag": ["vores byggetilladelse", "tilbygningen", "byggesagen om carporten", "BBR-oplysningerne"],
    "affald": ["skraldespanden", "tømningen af affald", "storskraldet", "genbrugspladsen"],
    "veje-og-parkering": ["parkeringen", "hullerne i vejen", "beboerlicensen", "snerydningen"],
    "ejendomsskat": ["ejendomsskatten", "grundskylden", "ejendomsvurderingen", "skattebilletten"],
    "dagtilbud": ["vuggestuepladsen", "børnehaven", "dagplejen", "pladsanvisningen"],
    "skole": ["skolen", "SFO'en", "skolebussen", "vores søns klasse"],
    "boern-og-familie": ["familiebehandlingen", "samværet med børnene", "aflastningen", "vores plejebarn"],
    "aeldrepleje": ["min mors hjemmehjælp", "plejehjemmet", "madordningen", "visitationen"],
    "sundhed-og-genoptraening": ["genoptræningen", "tandplejen", "sundhedsplejersken", "fysioterapien"],
    "beskaeftigelse": ["jobcentret", "mine sygedagpenge", "aktiveringen", "mit fleksjob"],
    "ydelser": ["boligstøtten", "kontanthjælpen", "min pension", "enkeltydelsen"],
    "borgerservice": ["mit pas", "MitID", "flytningen", "sundhedskortet"],
    "miljoe": ["støjen fra fabrikken", "olietanken", "rotterne", "miljøgodkendelsen"],
    "kultur-og-fritid": ["biblioteket", "svømmehallen", "foreningens tilskud", "halbookingen"],
    "klager-og-aktindsigt": ["min klage", "aktindsigten", "klagen over sagsbehandleren", "min anmodning om indsigt"],
    "handicap-og-psykiatri": ["bostøtten", "min søns botilbud", "ledsagerordningen", "handicapbilen"],
}
INBOX_SLOTS = {
    "afd1": DEPARTMENTS, "afd2": DEPARTMENTS, "postkasse": POSTKASSER, "klient": KLIENT, "firma2": FIRMA2,
    "klok": ["08:14", "09:32", "11:05", "13:47", "15:20", "21:03", "06:58"],
    "mail": ["borger@gmail.com", "k.hansen@hotmail.com", "info@firma.dk", "jens1974@live.dk", "mail@outlook.dk"],
}

# Background of another subject told BEFORE the main request ({x} = a phrase of the other subject), no request in it;
# the main request follows, sometimes after a lead that says it is the point of the letter ({s} = its sentence).
BACKGROUND_FRAMES = ["Vi har i et stykke tid haft en sag om {x} kørende hos jer.",
                     "Først lidt baggrund: sidste måned var der problemer med {x}, og det er nu ordnet.",
                     "Jeg skrev til jer i foråret om {x}.",
                     "Vi har ellers været glade for {x}.",
                     "Min sagsbehandler vedrørende {x} henviste mig til jer.",
                     "I forbindelse med {x} fik jeg at vide, at jeg skulle skrive til jer.",
                     "Da jeg ringede om {x}, blev jeg bedt om at skrive i stedet.",
                     "Vi har netop fået svar angående {x}, tak for det.",
                     "Efter al balladen med {x} sidste år havde jeg håbet på ro.",
                     "{x} fungerer fint nu."]
MAIN_LEADS = ["Men det, jeg skriver om, er noget andet: {s}", "Men nu til det egentlige: {s}", "Mit spørgsmål er: {s}",
              "Min henvendelse drejer sig om følgende: {s}", "{s}", "Det, jeg egentlig vil spørge om, er: {s}",
              "Derfor skriver jeg nu: {s}", "Men det er ikke derfor, jeg skriver. {s}"]

# Frames for a second, minor request of another subject after the main one ({s} = its sentence).
SECOND_FRAMES = ["PS: {s}", "Og så et helt andet spørgsmål: {s}", "Derudover: {s}", "{s}",
                 "Min mand beder mig også spørge: {s}", "En sidste ting, som ikke haster: {s}",
                 "Mens jeg har jer: {s}", "P.S. {s}"]
# Forwarding notes that talk about the forwarder's own business first ({sidex} = a phrase of another subject)
FORWARD_NOTES_CONTEXT = ["Borgeren var forbi skranken i dag angående {sidex} og bad os sende dette videre.\nMvh {afd1}",
                         "Hej {afd2}\nVi har talt med borgeren om {sidex}, men resten hører til hos jer.\n/{fornavn}",
                         "Kom ind sammen med en henvendelse om {sidex}, som vi har besvaret. Denne del er jeres.\n{fornavn}, {afd1}",
                         "Til rette afdeling – vi har kun svaret på spørgsmålet om {sidex}.\nVenlig hilsen {afd1}"]
